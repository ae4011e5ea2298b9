import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  ValidateNested,
} from 'class-validator';
import { IsWireTimestamp } from '../../orchestration/dto/wire-validators';
import { STATE_TYPES, type StateType } from '../../orchestration/states';

/* Filter objects of docs/reference.md §1.8. Every class forbids unknown keys (global pipe), `null` means "not given". */

export type FilterOperator = 'and_' | 'or_';
const OPERATORS = ['and_', 'or_'] as const;

class OperatorFilter {
  @IsOptional()
  @IsIn(OPERATORS)
  operator?: FilterOperator;
}

export class UuidAnyFilter {
  @IsOptional()
  @IsArray()
  @IsUUID('all', { each: true })
  any_?: string[] | null;
}

export class UuidAnyNotAnyFilter extends UuidAnyFilter {
  @IsOptional()
  @IsArray()
  @IsUUID('all', { each: true })
  not_any_?: string[] | null;
}

export class NameAnyLikeFilter {
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  any_?: string[] | null;

  @IsOptional()
  @IsString()
  like_?: string | null;
}

export class StringAnyFilter {
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  any_?: string[] | null;
}

export class StringAnyNotAnyFilter extends StringAnyFilter {
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  not_any_?: string[] | null;
}

export class TagsFilter extends OperatorFilter {
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  all_?: string[] | null;

  @IsOptional()
  @IsBoolean()
  is_null_?: boolean | null;
}

export class TagsAnyFilter extends TagsFilter {
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  any_?: string[] | null;
}

export class TimeRangeFilter {
  @IsOptional()
  @IsWireTimestamp()
  before_?: string | null;

  @IsOptional()
  @IsWireTimestamp()
  after_?: string | null;
}

export class TimeRangeNullFilter extends TimeRangeFilter {
  @IsOptional()
  @IsBoolean()
  is_null_?: boolean | null;
}

export class StateTypeAnyFilter {
  @IsOptional()
  @IsArray()
  @IsIn(STATE_TYPES, { each: true })
  any_?: StateType[] | null;
}

export class StateTypeAnyNotAnyFilter extends StateTypeAnyFilter {
  @IsOptional()
  @IsArray()
  @IsIn(STATE_TYPES, { each: true })
  not_any_?: StateType[] | null;
}

export class TaskRunStateFilter extends OperatorFilter {
  @IsOptional() @ValidateNested() @Type(() => StateTypeAnyFilter) type?: StateTypeAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => StringAnyFilter) name?: StringAnyFilter | null;
}

export class FlowRunStateFilter extends OperatorFilter {
  @IsOptional()
  @ValidateNested()
  @Type(() => StateTypeAnyNotAnyFilter)
  type?: StateTypeAnyNotAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => StringAnyNotAnyFilter) name?: StringAnyNotAnyFilter | null;
}

export class ExistsFilter {
  @IsOptional()
  @IsBoolean()
  exists_?: boolean | null;
}

export class IdNullFilter extends OperatorFilter {
  @IsOptional()
  @IsArray()
  @IsUUID('all', { each: true })
  any_?: string[] | null;

  @IsOptional()
  @IsBoolean()
  is_null_?: boolean | null;
}

export class StringAnyNullFilter extends OperatorFilter {
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  any_?: string[] | null;

  @IsOptional()
  @IsBoolean()
  is_null_?: boolean | null;
}

export class CreatedByFilter {
  @IsOptional()
  @IsArray()
  @IsUUID('all', { each: true })
  id_?: string[] | null;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  type_?: string[] | null;

  @IsOptional()
  @IsBoolean()
  is_null_?: boolean | null;
}

export class IsNullFilter {
  @IsOptional()
  @IsBoolean()
  is_null_?: boolean | null;
}

export class LikeFilter {
  @IsOptional()
  @IsString()
  like_?: string | null;
}

export class BoolEqFilter {
  @IsOptional()
  @IsBoolean()
  eq_?: boolean | null;
}

export class IntRangeNullFilter {
  @IsOptional() @IsInt() ge_?: number | null;
  @IsOptional() @IsInt() le_?: number | null;
  @IsOptional() @IsBoolean() is_null_?: boolean | null;
}

export class TaskRunFilterDto extends OperatorFilter {
  @IsOptional() @ValidateNested() @Type(() => UuidAnyFilter) id?: UuidAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => NameAnyLikeFilter) name?: NameAnyLikeFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TagsFilter) tags?: TagsFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TaskRunStateFilter) state?: TaskRunStateFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TimeRangeNullFilter) start_time?: TimeRangeNullFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TimeRangeNullFilter) end_time?: TimeRangeNullFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TimeRangeFilter) expected_start_time?: TimeRangeFilter | null;
  @IsOptional() @ValidateNested() @Type(() => ExistsFilter) subflow_runs?: ExistsFilter | null;
  @IsOptional() @ValidateNested() @Type(() => IdNullFilter) flow_run_id?: IdNullFilter | null;
}

export class FlowRunFilterDto extends OperatorFilter {
  @IsOptional() @ValidateNested() @Type(() => UuidAnyNotAnyFilter) id?: UuidAnyNotAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => NameAnyLikeFilter) name?: NameAnyLikeFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TagsAnyFilter) tags?: TagsAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => IdNullFilter) deployment_id?: IdNullFilter | null;
  @IsOptional()
  @ValidateNested()
  @Type(() => StringAnyNullFilter)
  work_queue_name?: StringAnyNullFilter | null;
  @IsOptional() @ValidateNested() @Type(() => FlowRunStateFilter) state?: FlowRunStateFilter | null;
  @IsOptional() @ValidateNested() @Type(() => StringAnyFilter) flow_version?: StringAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TimeRangeNullFilter) start_time?: TimeRangeNullFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TimeRangeNullFilter) end_time?: TimeRangeNullFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TimeRangeFilter) expected_start_time?: TimeRangeFilter | null;
  @IsOptional()
  @ValidateNested()
  @Type(() => TimeRangeFilter)
  next_scheduled_start_time?: TimeRangeFilter | null;
  @IsOptional() @ValidateNested() @Type(() => UuidAnyFilter) parent_flow_run_id?: UuidAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => IdNullFilter) parent_task_run_id?: IdNullFilter | null;
  @IsOptional()
  @ValidateNested()
  @Type(() => StringAnyNotAnyFilter)
  idempotency_key?: StringAnyNotAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => CreatedByFilter) created_by?: CreatedByFilter | null;
}

export class FlowFilterDto extends OperatorFilter {
  @IsOptional() @ValidateNested() @Type(() => UuidAnyNotAnyFilter) id?: UuidAnyNotAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => IsNullFilter) deployment?: IsNullFilter | null;
  @IsOptional() @ValidateNested() @Type(() => NameAnyLikeFilter) name?: NameAnyLikeFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TagsFilter) tags?: TagsFilter | null;
}

export class DeploymentFilterDto extends OperatorFilter {
  @IsOptional() @ValidateNested() @Type(() => UuidAnyNotAnyFilter) id?: UuidAnyNotAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => NameAnyLikeFilter) name?: NameAnyLikeFilter | null;
  @IsOptional() @ValidateNested() @Type(() => LikeFilter) flow_or_deployment_name?: LikeFilter | null;
  @IsOptional() @ValidateNested() @Type(() => BoolEqFilter) paused?: BoolEqFilter | null;
  @IsOptional() @ValidateNested() @Type(() => TagsAnyFilter) tags?: TagsAnyFilter | null;
  @IsOptional() @ValidateNested() @Type(() => StringAnyFilter) work_queue_name?: StringAnyFilter | null;
  @IsOptional()
  @ValidateNested()
  @Type(() => IntRangeNullFilter)
  concurrency_limit?: IntRangeNullFilter | null;
}

/** The four filters every task-run list route takes. */
export class TaskRunFiltersDto {
  @IsOptional() @ValidateNested() @Type(() => FlowFilterDto) flows?: FlowFilterDto | null;
  @IsOptional() @ValidateNested() @Type(() => FlowRunFilterDto) flow_runs?: FlowRunFilterDto | null;
  @IsOptional() @ValidateNested() @Type(() => TaskRunFilterDto) task_runs?: TaskRunFilterDto | null;
  @IsOptional() @ValidateNested() @Type(() => DeploymentFilterDto) deployments?: DeploymentFilterDto | null;
}
