import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, Min, Validate } from 'class-validator';
import { PrefectName } from './prefect-name.validator';

const NON_NEGATIVE = { message: 'Input should be greater than or equal to 0' };

/** `ConcurrencyLimitV2Update`: every field optional; null or absent leaves it unchanged. */
export class ConcurrencyLimitV2UpdateDto {
  @IsOptional()
  @IsBoolean()
  active?: boolean | null;

  @IsOptional()
  @IsString()
  @Validate(PrefectName)
  name?: string | null;

  @IsOptional()
  @IsInt()
  @Min(0, NON_NEGATIVE)
  limit?: number | null;

  @IsOptional()
  @IsInt()
  @Min(0, NON_NEGATIVE)
  active_slots?: number | null;

  @IsOptional()
  @IsInt()
  @Min(0, NON_NEGATIVE)
  denied_slots?: number | null;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0, NON_NEGATIVE)
  slot_decay_per_second?: number | null;
}
