import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, Min, Validate } from 'class-validator';
import { PrefectName } from './prefect-name.validator';

const NON_NEGATIVE = { message: 'Input should be greater than or equal to 0' };

/** `ConcurrencyLimitV2Create`. */
export class ConcurrencyLimitV2CreateDto {
  @IsOptional()
  @IsBoolean()
  active?: boolean;

  @IsString()
  @Validate(PrefectName)
  name!: string;

  @IsInt()
  @Min(0, NON_NEGATIVE)
  limit!: number;

  @IsOptional()
  @IsInt()
  @Min(0, NON_NEGATIVE)
  active_slots?: number;

  @IsOptional()
  @IsInt()
  @Min(0, NON_NEGATIVE)
  denied_slots?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0, NON_NEGATIVE)
  slot_decay_per_second?: number;
}
