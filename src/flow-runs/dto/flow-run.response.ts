import { ApiProperty, ApiPropertyOptions, ApiSchema } from '@nestjs/swagger';
import { StateResponse } from '../../orchestration/dto/state.response';
import type { OrchestrationState } from '../../orchestration/orchestration.types';
import { STATE_TYPES, type StateType } from '../../orchestration/states';

/* Response models of the minimal flow and flow-run routes (the fields this server keeps), Prefect's names. */

const TIMESTAMP: ApiPropertyOptions = { type: 'string', format: 'date-time' };
const NULLABLE_TIMESTAMP: ApiPropertyOptions = { ...TIMESTAMP, nullable: true };
const UUID: ApiPropertyOptions = { type: 'string', format: 'uuid' };
const JSON_OBJECT: ApiPropertyOptions = { type: 'object', additionalProperties: true };
const LABELS: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
};

@ApiSchema({ name: 'Flow' })
export class FlowResponse {
  @ApiProperty(UUID) id!: string;
  @ApiProperty(TIMESTAMP) created!: string;
  @ApiProperty(TIMESTAMP) updated!: string;
  @ApiProperty({ type: 'string' }) name!: string;
  @ApiProperty({ type: 'array', items: { type: 'string' } }) tags!: string[];
  @ApiProperty(LABELS) labels!: Record<string, string | number | boolean> | null;
}

@ApiSchema({ name: 'FlowRun' })
export class FlowRunResponse {
  @ApiProperty(UUID) id!: string;
  @ApiProperty(TIMESTAMP) created!: string;
  @ApiProperty(TIMESTAMP) updated!: string;
  @ApiProperty({ type: 'string' }) name!: string;
  @ApiProperty(UUID) flow_id!: string;
  @ApiProperty({ ...UUID, nullable: true }) state_id!: string | null;
  @ApiProperty({ ...UUID, nullable: true }) deployment_id!: string | null;
  @ApiProperty({ type: 'string', nullable: true }) work_queue_name!: string | null;
  @ApiProperty({ type: 'string', nullable: true }) flow_version!: string | null;
  @ApiProperty(JSON_OBJECT) parameters!: Record<string, unknown>;
  @ApiProperty({ type: 'string', nullable: true }) idempotency_key!: string | null;
  @ApiProperty(JSON_OBJECT) context!: Record<string, unknown>;
  @ApiProperty(JSON_OBJECT) empirical_policy!: Record<string, unknown>;
  @ApiProperty({ type: 'array', items: { type: 'string' } }) tags!: string[];
  @ApiProperty(LABELS) labels!: Record<string, string | number | boolean> | null;
  @ApiProperty({ ...UUID, nullable: true }) parent_task_run_id!: string | null;
  @ApiProperty({ type: 'string', enum: [...STATE_TYPES], enumName: 'StateType', nullable: true })
  state_type!: StateType | null;
  @ApiProperty({ type: 'string', nullable: true }) state_name!: string | null;
  @ApiProperty({ type: 'integer' }) run_count!: number;
  @ApiProperty(NULLABLE_TIMESTAMP) expected_start_time!: string | null;
  @ApiProperty(NULLABLE_TIMESTAMP) next_scheduled_start_time!: string | null;
  @ApiProperty(NULLABLE_TIMESTAMP) start_time!: string | null;
  @ApiProperty(NULLABLE_TIMESTAMP) end_time!: string | null;
  @ApiProperty({ type: 'number', description: 'Seconds (a float).' }) total_run_time!: number;
  @ApiProperty({ ...JSON_OBJECT, nullable: true }) created_by!: Record<string, unknown> | null;
  @ApiProperty({ type: () => StateResponse, nullable: true }) state!: OrchestrationState | null;
}
