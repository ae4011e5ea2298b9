import { IsInt, IsString, Min } from 'class-validator';

/** `ConcurrencyLimitCreate` (v1): a tag and its limit; creating an existing tag updates its limit. */
export class ConcurrencyLimitCreateDto {
  @IsString()
  tag!: string;

  @IsInt()
  @Min(0, { message: 'Input should be greater than or equal to 0' })
  concurrency_limit!: number;
}
