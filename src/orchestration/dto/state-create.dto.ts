import { IsIn, IsOptional, IsString } from 'class-validator';
import type { StateDetails } from '../orchestration.types';
import { STATE_TYPES, type StateType } from '../states';
import { IsJsonObject } from './wire-validators';

/** StateCreate (docs/reference.md §1.7): `id` and `timestamp` are refused like any unknown key. */
export class StateCreateDto {
  @IsIn(STATE_TYPES, { message: `Input should be ${STATE_TYPES.map((t) => `'${t}'`).join(', ')}` })
  type!: StateType;

  @IsOptional()
  @IsString()
  name?: string | null;

  @IsOptional()
  @IsString()
  message?: string | null;

  @IsOptional()
  data?: unknown;

  @IsOptional()
  @IsJsonObject()
  state_details?: StateDetails | null;
}
