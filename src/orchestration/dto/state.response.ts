import {
  ApiProperty,
  ApiPropertyOptions,
  ApiPropertyOptional,
  ApiSchema,
  getSchemaPath,
} from '@nestjs/swagger';
import type {
  OrchestrationDetails,
  OrchestrationResult,
  OrchestrationState,
  OrchestrationStatus,
  StateDetails,
} from '../orchestration.types';
import { STATE_TYPES, type StateType } from '../states';

/*
 * Response models of states and orchestration, named as Prefect names them in its OpenAPI document. They are
 * what the controllers declare and what the document describes (docs/reference.md §1.7).
 */

const TIMESTAMP: ApiPropertyOptions = { type: 'string', format: 'date-time' };

/** StateDetails: every field optional; unknown keys are kept. */
@ApiSchema({ name: 'StateDetails' })
export class StateDetailsResponse implements StateDetails {
  [key: string]: unknown;
  @ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true }) flow_run_id?: string | null;
  @ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true }) task_run_id?: string | null;
  @ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true }) child_flow_run_id?: string | null;
  @ApiPropertyOptional({ ...TIMESTAMP, nullable: true }) scheduled_time?: string | null;
  @ApiPropertyOptional({ type: 'string', nullable: true }) cache_key?: string | null;
  @ApiPropertyOptional({ ...TIMESTAMP, nullable: true }) cache_expiration?: string | null;
  @ApiPropertyOptional({ type: 'boolean', nullable: true }) deferred?: boolean | null;
  @ApiPropertyOptional({ type: 'boolean' }) untrackable_result?: boolean;
  @ApiPropertyOptional({ ...TIMESTAMP, nullable: true }) pause_timeout?: string | null;
  @ApiPropertyOptional({ type: 'boolean' }) pause_reschedule?: boolean;
  @ApiPropertyOptional({ type: 'string', nullable: true }) pause_key?: string | null;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, nullable: true })
  run_input_keyset?: Record<string, string> | null;
  @ApiPropertyOptional({ type: 'boolean', nullable: true }) refresh_cache?: boolean | null;
  @ApiPropertyOptional({ type: 'boolean', nullable: true }) retriable?: boolean | null;
  @ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true }) transition_id?: string | null;
  @ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true }) task_parameters_id?: string | null;
  @ApiPropertyOptional({ type: 'string', nullable: true }) traceparent?: string | null;
  @ApiPropertyOptional({ type: 'string', format: 'uuid', nullable: true })
  deployment_concurrency_lease_id?: string | null;
}

/** A State (µs timestamps; `data` is any JSON value or null). */
@ApiSchema({ name: 'State' })
export class StateResponse implements OrchestrationState {
  @ApiProperty({ type: 'string', format: 'uuid' }) id!: string;
  @ApiProperty({ type: 'string', enum: [...STATE_TYPES], enumName: 'StateType' }) type!: StateType;
  @ApiProperty({ type: 'string' }) name!: string;
  @ApiProperty(TIMESTAMP) timestamp!: string;
  @ApiProperty({ type: 'string', nullable: true }) message!: string | null;
  @ApiProperty({ nullable: true, description: 'Any JSON value: an inline result or result metadata.' })
  data!: unknown;
  @ApiProperty({ type: () => StateDetailsResponse }) state_details!: StateDetails;
}

@ApiSchema({ name: 'StateAcceptDetails' })
export class StateAcceptDetails {
  @ApiProperty({ type: 'string', enum: ['accept_details'] }) type!: 'accept_details';
}

@ApiSchema({ name: 'StateRejectDetails' })
export class StateRejectDetails {
  @ApiProperty({ type: 'string', enum: ['reject_details'] }) type!: 'reject_details';
  @ApiProperty({ type: 'string', nullable: true }) reason!: string | null;
}

@ApiSchema({ name: 'StateAbortDetails' })
export class StateAbortDetails {
  @ApiProperty({ type: 'string', enum: ['abort_details'] }) type!: 'abort_details';
  @ApiProperty({ type: 'string', nullable: true }) reason!: string | null;
}

@ApiSchema({ name: 'StateWaitDetails' })
export class StateWaitDetails {
  @ApiProperty({ type: 'string', enum: ['wait_details'] }) type!: 'wait_details';
  @ApiProperty({ type: 'integer' }) delay_seconds!: number;
  @ApiProperty({ type: 'string', nullable: true }) reason!: string | null;
}

export const ORCHESTRATION_DETAILS_MODELS = [
  StateAcceptDetails,
  StateRejectDetails,
  StateAbortDetails,
  StateWaitDetails,
];

/** The answer of `set_state`: the validated (or current) state, the decision and its details. */
@ApiSchema({ name: 'OrchestrationResult' })
export class OrchestrationResultResponse implements OrchestrationResult {
  @ApiProperty({ type: () => StateResponse, nullable: true }) state!: OrchestrationState | null;
  @ApiProperty({ type: 'string', enum: ['ACCEPT', 'REJECT', 'ABORT', 'WAIT'], enumName: 'SetStateStatus' })
  status!: OrchestrationStatus;
  @ApiProperty({
    oneOf: ORCHESTRATION_DETAILS_MODELS.map((m) => ({ $ref: getSchemaPath(m) })),
    discriminator: {
      propertyName: 'type',
      mapping: {
        accept_details: getSchemaPath(StateAcceptDetails),
        reject_details: getSchemaPath(StateRejectDetails),
        abort_details: getSchemaPath(StateAbortDetails),
        wait_details: getSchemaPath(StateWaitDetails),
      },
    },
  })
  details!: OrchestrationDetails;
}
