import type { Timestamp } from '../common/time/timestamp';
import type { StateType } from './states';

/** StateDetails as on the wire (docs/reference.md §1.7); unknown keys are kept. */
export interface StateDetails {
  flow_run_id?: string | null;
  task_run_id?: string | null;
  child_flow_run_id?: string | null;
  scheduled_time?: Timestamp | null;
  cache_key?: string | null;
  cache_expiration?: Timestamp | null;
  deferred?: boolean | null;
  untrackable_result?: boolean;
  pause_timeout?: Timestamp | null;
  pause_reschedule?: boolean;
  pause_key?: string | null;
  run_input_keyset?: Record<string, string> | null;
  refresh_cache?: boolean | null;
  retriable?: boolean | null;
  transition_id?: string | null;
  task_parameters_id?: string | null;
  traceparent?: string | null;
  deployment_concurrency_lease_id?: string | null;
  [key: string]: unknown;
}

/** A State document (wire shape): what rules propose, reject to and validate. */
export interface OrchestrationState {
  id: string;
  type: StateType;
  name: string;
  timestamp: Timestamp;
  message: string | null;
  data: unknown;
  state_details: StateDetails;
}

/** TaskRunPolicy (`empirical_policy`), wire shape. */
export interface TaskRunPolicy {
  max_retries?: number;
  retry_delay_seconds?: number;
  retries?: number | null;
  retry_delay?: number | number[] | null;
  retry_jitter_factor?: number | null;
  [key: string]: unknown;
}

/**
 * The live run row that rules and transforms read and mutate (camelCase, durations in float seconds,
 * timestamps as µs ISO strings). The task-runs side maps its row to and from this shape.
 */
export interface OrchestratedRun {
  id: string;
  flowRunId: string | null;
  taskKey: string;
  tags: string[];
  empiricalPolicy: TaskRunPolicy;
  runCount: number;
  flowRunRunCount: number;
  stateId: string | null;
  stateType: StateType | null;
  stateName: string | null;
  stateTimestamp: Timestamp | null;
  expectedStartTime: Timestamp | null;
  nextScheduledStartTime: Timestamp | null;
  startTime: Timestamp | null;
  endTime: Timestamp | null;
  totalRunTime: number;
}

export type OrchestrationStatus = 'ACCEPT' | 'REJECT' | 'ABORT' | 'WAIT';

export type OrchestrationDetails =
  | { type: 'accept_details' }
  | { type: 'reject_details'; reason: string | null }
  | { type: 'abort_details'; reason: string | null }
  | { type: 'wait_details'; delay_seconds: number; reason: string | null };

/** The response of set_state (docs/reference.md §1.7 OrchestrationResult). */
export interface OrchestrationResult {
  state: OrchestrationState | null;
  status: OrchestrationStatus;
  details: OrchestrationDetails;
}
