import { ApiProperty, ApiPropertyOptions, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { StateResponse } from '../../orchestration/dto/state.response';
import type { OrchestrationState, TaskRunPolicy } from '../../orchestration/orchestration.types';
import { STATE_TYPES, type StateType } from '../../orchestration/states';

/*
 * Response models of the task-run routes, named as Prefect names them. Controllers declare these types and the
 * OpenAPI document is generated from them (docs/reference.md §1.7). Durations are float seconds;
 * timestamps are ISO-8601 with µs and an offset.
 */

const TIMESTAMP: ApiPropertyOptions = { type: 'string', format: 'date-time' };
const NULLABLE_TIMESTAMP: ApiPropertyOptions = { ...TIMESTAMP, nullable: true };
const SECONDS: ApiPropertyOptions = { type: 'number', description: 'Seconds (a float).' };
const STATE_TYPE: ApiPropertyOptions = { type: 'string', enum: [...STATE_TYPES], enumName: 'StateType' };

/** `empirical_policy`: retries and delays. */
@ApiSchema({ name: 'TaskRunPolicy' })
export class TaskRunPolicyResponse implements TaskRunPolicy {
  [key: string]: unknown;
  @ApiPropertyOptional({ type: 'integer', deprecated: true }) max_retries?: number;
  @ApiPropertyOptional({ type: 'number', deprecated: true }) retry_delay_seconds?: number;
  @ApiPropertyOptional({ type: 'integer', nullable: true }) retries?: number | null;
  @ApiPropertyOptional({
    nullable: true,
    oneOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' } }],
  })
  retry_delay?: number | number[] | null;
  @ApiPropertyOptional({ type: 'number', nullable: true }) retry_jitter_factor?: number | null;
}

/** One `task_inputs` entry: a reference to a task run, a flow run, a parameter or a constant. */
@ApiSchema({ name: 'TaskRunInput' })
export class TaskRunInputResponse {
  @ApiProperty({ type: 'string', enum: ['task_run', 'flow_run', 'parameter', 'constant'] })
  input_type!: string;
  @ApiPropertyOptional({ type: 'string', format: 'uuid' }) id?: string;
  @ApiPropertyOptional({ type: 'string' }) name?: string;
  @ApiPropertyOptional({ type: 'string' }) type?: string;
}

const TASK_INPUTS: ApiPropertyOptions = {
  type: 'object',
  additionalProperties: { type: 'array', items: { $ref: '#/components/schemas/TaskRunInput' } },
};
const LABELS: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
};

/** The fields of the reduced task run `/task_runs/paginate` lists (Prefect's TaskRunResponse). */
@ApiSchema({ name: 'TaskRunResponse' })
export class TaskRunResponseReduced {
  /** Code that stores the JSON as a snapshot (the task-queue store) sees it as a plain record. */
  [key: string]: unknown;
  @ApiProperty({ type: 'string', format: 'uuid' }) id!: string;
  @ApiProperty(TIMESTAMP) created!: string;
  @ApiProperty(TIMESTAMP) updated!: string;
  @ApiProperty({ type: 'string' }) name!: string;
  @ApiProperty({ type: 'string', format: 'uuid', nullable: true }) flow_run_id!: string | null;
  @ApiProperty({ type: 'string' }) task_key!: string;
  @ApiProperty({ type: 'string', format: 'uuid', nullable: true }) state_id!: string | null;
  @ApiProperty({ type: () => StateResponse, nullable: true }) state!: OrchestrationState | null;
  @ApiProperty({ type: 'string', nullable: true }) task_version!: string | null;
  @ApiProperty(TASK_INPUTS) task_inputs!: Record<string, TaskRunInputResponse[]>;
  @ApiProperty({ type: () => TaskRunPolicyResponse }) empirical_policy!: TaskRunPolicy;
  @ApiProperty({ type: 'array', items: { type: 'string' } }) tags!: string[];
  @ApiProperty(NULLABLE_TIMESTAMP) start_time!: string | null;
  @ApiProperty(NULLABLE_TIMESTAMP) end_time!: string | null;
  @ApiProperty(SECONDS) total_run_time!: number;
  @ApiProperty(SECONDS) estimated_run_time!: number;
  @ApiProperty(SECONDS) estimated_start_time_delta!: number;
}

/** A task run as `GET /task_runs/{id}`, `/filter`, create and the task-worker socket send it. */
@ApiSchema({ name: 'TaskRun' })
export class TaskRunResponse extends TaskRunResponseReduced {
  @ApiProperty({ type: 'string' }) dynamic_key!: string;
  @ApiProperty({ type: 'string', nullable: true }) cache_key!: string | null;
  @ApiProperty(NULLABLE_TIMESTAMP) cache_expiration!: string | null;
  @ApiProperty(LABELS) labels!: Record<string, string | number | boolean> | null;
  @ApiProperty({ ...STATE_TYPE, nullable: true }) state_type!: StateType | null;
  @ApiProperty({ type: 'string', nullable: true }) state_name!: string | null;
  @ApiProperty({ type: 'integer' }) run_count!: number;
  @ApiProperty({ type: 'integer' }) flow_run_run_count!: number;
  @ApiProperty(NULLABLE_TIMESTAMP) expected_start_time!: string | null;
  @ApiProperty(NULLABLE_TIMESTAMP) next_scheduled_start_time!: string | null;
}

/** `GET /ui/task_runs/{id}`: a task run with its flow run's name. */
@ApiSchema({ name: 'UITaskRun' })
export class UiTaskRunResponse extends TaskRunResponse {
  @ApiProperty({ type: 'string', nullable: true }) flow_run_name!: string | null;
}

/** `POST /task_runs/paginate`. */
@ApiSchema({ name: 'TaskRunPaginationResponse' })
export class TaskRunPaginationResponse {
  @ApiProperty({ type: () => [TaskRunResponseReduced] }) results!: TaskRunResponseReduced[];
  @ApiProperty({ type: 'integer' }) count!: number;
  @ApiProperty({ type: 'integer' }) limit!: number;
  @ApiProperty({ type: 'integer' }) pages!: number;
  @ApiProperty({ type: 'integer' }) page!: number;
}

@ApiSchema({ name: 'HistoryResponseState' })
export class HistoryResponseState {
  @ApiProperty(STATE_TYPE) state_type!: StateType;
  @ApiProperty({ type: 'string' }) state_name!: string;
  @ApiProperty({ type: 'integer' }) count_runs!: number;
  @ApiProperty(SECONDS) sum_estimated_run_time!: number;
  @ApiProperty(SECONDS) sum_estimated_lateness!: number;
}

/** One interval of `POST /task_runs/history`. */
@ApiSchema({ name: 'HistoryResponse' })
export class HistoryResponse {
  @ApiProperty(TIMESTAMP) interval_start!: string;
  @ApiProperty(TIMESTAMP) interval_end!: string;
  @ApiProperty({ type: () => [HistoryResponseState] }) states!: HistoryResponseState[];
}

/** One bucket of `POST /ui/task_runs/dashboard/counts`. */
@ApiSchema({ name: 'TaskRunCount' })
export class TaskRunCount {
  @ApiProperty({ type: 'integer' }) completed!: number;
  @ApiProperty({ type: 'integer', description: 'FAILED or CRASHED.' }) failed!: number;
}

/** `POST /ui/task_runs/count`: every state type with its count. */
@ApiSchema({ name: 'CountByState' })
export class CountByState implements Record<StateType, number> {
  @ApiProperty({ type: 'integer' }) SCHEDULED!: number;
  @ApiProperty({ type: 'integer' }) PENDING!: number;
  @ApiProperty({ type: 'integer' }) RUNNING!: number;
  @ApiProperty({ type: 'integer' }) COMPLETED!: number;
  @ApiProperty({ type: 'integer' }) FAILED!: number;
  @ApiProperty({ type: 'integer' }) CANCELLED!: number;
  @ApiProperty({ type: 'integer' }) CRASHED!: number;
  @ApiProperty({ type: 'integer' }) PAUSED!: number;
  @ApiProperty({ type: 'integer' }) CANCELLING!: number;
}
