import type { OrchestrationState, StateDetails, TaskRunPolicy } from './orchestration.types';
import { uuid7 } from './state-ids';
import { defaultStateName, type StateType } from './states';

/** StateDetails defaults (docs/reference.md §1.7): every field is present on the wire, as Prefect serialises it. */
export const STATE_DETAILS_DEFAULTS: Readonly<StateDetails> = Object.freeze({
  flow_run_id: null,
  task_run_id: null,
  child_flow_run_id: null,
  scheduled_time: null,
  cache_key: null,
  cache_expiration: null,
  deferred: false,
  untrackable_result: false,
  pause_timeout: null,
  pause_reschedule: false,
  pause_key: null,
  run_input_keyset: null,
  refresh_cache: null,
  retriable: null,
  transition_id: null,
  task_parameters_id: null,
  traceparent: null,
  deployment_concurrency_lease_id: null,
});

/** A new State document stamped at `timestampMicros` (µs since the epoch), with a fresh uuid7. */
export function makeState(
  init: {
    type: StateType;
    name?: string | null;
    message?: string | null;
    data?: unknown;
    state_details?: StateDetails;
  },
  timestamp: string,
  nowMs: number = Date.now(),
): OrchestrationState {
  const details: StateDetails = { ...STATE_DETAILS_DEFAULTS, ...(init.state_details ?? {}) };
  if (init.type === 'SCHEDULED' && details.scheduled_time == null) {
    details.scheduled_time = timestamp;
  }
  return {
    id: uuid7(nowMs),
    type: init.type,
    name: init.name || defaultStateName(init.type),
    timestamp,
    message: init.message ?? null,
    data: init.data ?? null,
    state_details: details,
  };
}

/** TaskRunPolicy defaults and deprecated-field migration (docs/reference.md §1.7). */
export function normalizeTaskRunPolicy(
  policy: TaskRunPolicy | null | undefined,
): Required<
  Pick<
    TaskRunPolicy,
    'max_retries' | 'retry_delay_seconds' | 'retries' | 'retry_delay' | 'retry_jitter_factor'
  >
> &
  TaskRunPolicy {
  const p = policy ?? {};
  const maxRetries = p.max_retries ?? 0;
  const retryDelaySeconds = p.retry_delay_seconds ?? 0;
  let retries = p.retries ?? null;
  let retryDelay = p.retry_delay ?? null;
  if (!retries && maxRetries !== 0) {
    retries = maxRetries;
  }
  if (!retryDelay && retryDelaySeconds !== 0) {
    retryDelay = retryDelaySeconds;
  }
  return {
    ...p,
    max_retries: maxRetries,
    retry_delay_seconds: retryDelaySeconds,
    retries,
    retry_delay: retryDelay,
    retry_jitter_factor: p.retry_jitter_factor ?? null,
  };
}

/** A state's data counts as a persisted result unless it is empty or `{"type":"unpersisted"}`. */
export function hasPersistedResult(data: unknown): boolean {
  if (!data) {
    return false;
  }
  if (typeof data === 'object' && !Array.isArray(data)) {
    const obj = data as Record<string, unknown>;
    if (Object.keys(obj).length === 0) {
      return false;
    }
    return obj.type !== 'unpersisted';
  }
  if (Array.isArray(data)) {
    return data.length > 0;
  }
  return true;
}
