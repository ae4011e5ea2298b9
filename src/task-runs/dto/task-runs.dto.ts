import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Min,
  ValidateNested,
} from 'class-validator';
import { StateCreateDto } from '../../orchestration/dto/state-create.dto';
import { IsJsonObject, IsLabels, IsWireTimestamp } from '../../orchestration/dto/wire-validators';
import type { TaskRunPolicy } from '../../orchestration/orchestration.types';
import { TaskRunFilterDto, TaskRunFiltersDto } from './filters.dto';

/** TaskRunCreate (docs/reference.md §1.7). */
export class CreateTaskRunDto {
  @IsOptional()
  @IsUUID('all')
  id?: string | null;

  @IsOptional()
  @ValidateNested()
  @Type(() => StateCreateDto)
  state?: StateCreateDto | null;

  @IsOptional()
  @IsString()
  name?: string | null;

  @IsOptional()
  @IsUUID('all')
  flow_run_id?: string | null;

  @IsString()
  task_key!: string;

  @IsString()
  dynamic_key!: string;

  @IsOptional()
  @IsString()
  cache_key?: string | null;

  @IsOptional()
  @IsWireTimestamp()
  cache_expiration?: string | null;

  @IsOptional()
  @IsString()
  task_version?: string | null;

  @IsOptional()
  @IsJsonObject()
  empirical_policy?: TaskRunPolicy | null;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  tags?: string[] | null;

  @IsOptional()
  @IsLabels()
  labels?: Record<string, string | number | boolean> | null;

  @IsOptional()
  @IsJsonObject()
  task_inputs?: Record<string, unknown[]> | null;
}

/** TaskRunUpdate: `name` only. */
export class UpdateTaskRunDto {
  @IsOptional()
  @IsString()
  name?: string | null;
}

/** `POST /task_runs/{id}/set_state`. */
export class SetTaskRunStateDto {
  @IsDefined()
  @ValidateNested()
  @Type(() => StateCreateDto)
  state!: StateCreateDto;

  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

export const TASK_RUN_SORTS = [
  'ID_DESC',
  'EXPECTED_START_TIME_ASC',
  'EXPECTED_START_TIME_DESC',
  'NAME_ASC',
  'NAME_DESC',
  'NEXT_SCHEDULED_START_TIME_ASC',
  'END_TIME_DESC',
] as const;
export type TaskRunSort = (typeof TASK_RUN_SORTS)[number];

/** `POST /task_runs/filter`. */
export class FilterTaskRunsDto extends TaskRunFiltersDto {
  @IsOptional()
  @IsIn(TASK_RUN_SORTS, { message: `Input should be ${TASK_RUN_SORTS.map((s) => `'${s}'`).join(', ')}` })
  sort?: TaskRunSort | null;

  @IsOptional()
  @IsInt()
  limit?: number | null;

  @IsOptional()
  @IsInt()
  @Min(0)
  offset?: number | null;
}

/** `POST /task_runs/paginate`. */
export class PaginateTaskRunsDto extends TaskRunFiltersDto {
  @IsOptional()
  @IsIn(TASK_RUN_SORTS, { message: `Input should be ${TASK_RUN_SORTS.map((s) => `'${s}'`).join(', ')}` })
  sort?: TaskRunSort | null;

  @IsOptional()
  @IsInt()
  limit?: number | null;

  @IsOptional()
  @IsInt()
  @Min(1)
  page?: number | null;
}

/** `POST /task_runs/count` and `POST /ui/task_runs/count`. */
export class CountTaskRunsDto extends TaskRunFiltersDto {}

/** `POST /task_runs/history`. */
export class TaskRunHistoryDto extends TaskRunFiltersDto {
  @IsWireTimestamp()
  history_start!: string;

  @IsWireTimestamp()
  history_end!: string;

  @IsNumber()
  history_interval_seconds!: number;
}

/** `POST /ui/task_runs/dashboard/counts`: `task_runs` is required. */
export class DashboardCountsDto extends TaskRunFiltersDto {
  @IsDefined()
  @ValidateNested()
  @Type(() => TaskRunFilterDto)
  declare task_runs: TaskRunFilterDto;
}
