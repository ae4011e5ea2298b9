import { IsInt, IsOptional, Min } from 'class-validator';

/** `{limit, offset}` body of the `/filter` routes; the limit's bounds are checked by the service (Prefect texts). */
export class LimitOffsetDto {
  @IsOptional()
  @IsInt()
  limit?: number | null;

  @IsOptional()
  @IsInt()
  @Min(0, { message: 'Input should be greater than or equal to 0' })
  offset?: number;
}
