import { IsArray, IsOptional, IsUUID } from 'class-validator';

/** Body of `POST /concurrency_limits/tag/{tag}/reset`: the holders to keep (none by default). */
export class ConcurrencyLimitResetDto {
  @IsOptional()
  @IsArray()
  @IsUUID(undefined, { each: true })
  slot_override?: string[] | null;
}
