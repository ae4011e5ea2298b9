import { toMicros } from '../common/time/timestamp';
import type {
  OrchestratedRun,
  OrchestrationState,
  TaskRunPolicy,
} from '../orchestration/orchestration.types';
import { normalizeTaskRunPolicy } from '../orchestration/state-factory';
import { isTerminal, type StateType } from '../orchestration/states';
import type { TaskRunInputResponse, TaskRunResponse, TaskRunResponseReduced } from './dto/task-run.response';

/** Columns of a task run plus its current state (`s_*`) and the state's result artifact data. */
export const TASK_RUN_SELECT = `tr.id, tr.created, tr.updated, tr.name, tr.flow_run_id, tr.task_key, tr.dynamic_key,
  tr.cache_key, tr.cache_expiration, tr.task_version, tr.flow_run_run_count, tr.run_count, tr.empirical_policy,
  tr.task_inputs, tr.tags, tr.labels, tr.state_id, tr.state_type, tr.state_name, tr.state_timestamp,
  tr.expected_start_time, tr.next_scheduled_start_time, tr.start_time, tr.end_time, tr.total_run_time,
  s.id AS s_id, s.type AS s_type, s.name AS s_name, s.timestamp AS s_timestamp, s.message AS s_message,
  s.state_details AS s_state_details, s.data AS s_data, a.data AS s_artifact_data`;

export const TASK_RUN_FROM = `task_run tr
  LEFT JOIN task_run_state s ON s.id = tr.state_id
  LEFT JOIN artifact a ON a.id = s.result_artifact_id`;

/**
 * The one row type of task runs: a `task_run` row as selected with TASK_RUN_SELECT (snake_case, pg-parsed:
 * timestamps as canonical µs text, intervals as seconds), plus its current state (`s_*`) and the state's result
 * artifact data. Every read of a task run produces it (TaskRunsRepository) and `toTaskRunJson` renders it.
 */
export interface TaskRunRow {
  id: string;
  created: string;
  updated: string;
  name: string;
  flow_run_id: string | null;
  task_key: string;
  dynamic_key: string;
  cache_key: string | null;
  cache_expiration: string | null;
  task_version: string | null;
  flow_run_run_count: number;
  run_count: number;
  empirical_policy: TaskRunPolicy | null;
  /** Validated on the way in (docs/reference.md §1.1), so the jsonb holds the wire shapes. */
  task_inputs: Record<string, TaskRunInputResponse[]> | null;
  tags: string[] | null;
  labels: Record<string, string | number | boolean> | null;
  state_id: string | null;
  state_type: StateType | null;
  state_name: string | null;
  state_timestamp: string | null;
  expected_start_time: string | null;
  next_scheduled_start_time: string | null;
  start_time: string | null;
  end_time: string | null;
  total_run_time: number;
  s_id?: string | null;
  s_type?: StateType | null;
  s_name?: string | null;
  s_timestamp?: string | null;
  s_message?: string | null;
  s_state_details?: Record<string, unknown> | null;
  s_data?: unknown;
  s_artifact_data?: unknown;
}

/** A `task_run_state` row (its own columns) plus its result artifact's `artifact_data`. */
export interface TaskRunStateRow {
  id: string;
  type: StateType;
  name: string;
  timestamp: string;
  message: string | null;
  state_details: Record<string, unknown> | null;
  data: unknown;
  artifact_data?: unknown;
}

/** Truthiness of a JSON value as Python sees it (`{}`, `[]`, `""`, `0`, `false`, null are falsy). */
export function isTruthyJson(value: unknown): boolean {
  if (value == null || value === false || value === 0 || value === '') {
    return false;
  }
  if (Array.isArray(value)) {
    return value.length > 0;
  }
  if (typeof value === 'object') {
    return Object.keys(value).length > 0;
  }
  return true;
}

/** A state's data: the inline column when truthy, else the result artifact's data (docs/reference.md §1.2). */
export function stateData(inline: unknown, artifactData: unknown): unknown {
  return isTruthyJson(inline) ? inline : (artifactData ?? inline ?? null);
}

/** The State JSON from `prefix`ed columns (`s_` by default), or null when the run has no state. */
export function toStateJson(row: TaskRunRow): OrchestrationState | null {
  if (!row.s_id) {
    return null;
  }
  return {
    id: row.s_id,
    type: row.s_type!,
    name: row.s_name!,
    timestamp: row.s_timestamp!,
    message: row.s_message ?? null,
    data: stateData(row.s_data, row.s_artifact_data),
    state_details: row.s_state_details ?? {},
  };
}

/** A task_run_state row (its own columns plus `artifact_data`) → State JSON. */
export function stateRowToJson(row: TaskRunStateRow): OrchestrationState {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    timestamp: row.timestamp,
    message: row.message ?? null,
    data: stateData(row.data, row.artifact_data),
    state_details: row.state_details ?? {},
  };
}

interface Timing {
  state_type: StateType | null;
  state_timestamp: string | null;
  total_run_time: number;
  start_time: string | null;
  expected_start_time: string | null;
}

/** `estimated_run_time` (docs/reference.md §1.1), in seconds. */
export function estimatedRunTime(run: Timing, nowMicros: number): number {
  if (run.state_type === 'RUNNING' && run.state_timestamp) {
    return run.total_run_time + (nowMicros - toMicros(run.state_timestamp)) / 1e6;
  }
  return run.total_run_time;
}

/** `estimated_start_time_delta` (docs/reference.md §1.1), in seconds. */
export function estimatedStartTimeDelta(run: Timing, nowMicros: number): number {
  if (!run.expected_start_time) {
    return 0;
  }
  const expected = toMicros(run.expected_start_time);
  if (run.start_time) {
    const start = toMicros(run.start_time);
    return start > expected ? (start - expected) / 1e6 : 0;
  }
  if (!isTerminal(run.state_type) && expected < nowMicros) {
    return (nowMicros - expected) / 1e6;
  }
  return 0;
}

export function policyJson(policy: TaskRunPolicy | null | undefined): TaskRunPolicy {
  return normalizeTaskRunPolicy(policy);
}

/** A task_run row → TaskRun JSON (docs/reference.md §1.7), with computed fields at `nowMicros`. */
export function toTaskRunJson(row: TaskRunRow, nowMicros: number): TaskRunResponse {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    flow_run_id: row.flow_run_id,
    task_key: row.task_key,
    dynamic_key: row.dynamic_key,
    cache_key: row.cache_key,
    cache_expiration: row.cache_expiration,
    task_version: row.task_version,
    empirical_policy: policyJson(row.empirical_policy),
    tags: row.tags ?? [],
    labels: row.labels ?? null,
    task_inputs: row.task_inputs ?? {},
    state_id: row.state_id,
    state_type: row.state_type,
    state_name: row.state_name,
    state: toStateJson(row),
    run_count: row.run_count,
    flow_run_run_count: row.flow_run_run_count,
    expected_start_time: row.expected_start_time,
    next_scheduled_start_time: row.next_scheduled_start_time,
    start_time: row.start_time,
    end_time: row.end_time,
    total_run_time: row.total_run_time,
    estimated_run_time: estimatedRunTime(row, nowMicros),
    estimated_start_time_delta: estimatedStartTimeDelta(row, nowMicros),
  };
}

const REDUCED_FIELDS = [
  'id',
  'created',
  'updated',
  'name',
  'flow_run_id',
  'task_key',
  'state_id',
  'state',
  'task_version',
  'task_inputs',
  'empirical_policy',
  'tags',
  'start_time',
  'end_time',
  'total_run_time',
  'estimated_run_time',
  'estimated_start_time_delta',
] as const;

/** The reduced TaskRunResponse of /paginate. */
export function toReducedTaskRunJson(row: TaskRunRow, nowMicros: number): TaskRunResponseReduced {
  const full = toTaskRunJson(row, nowMicros);
  return Object.fromEntries(REDUCED_FIELDS.map((k) => [k, full[k]])) as unknown as TaskRunResponseReduced;
}

/** The orchestration view of a locked row. */
export function toOrchestratedRun(row: TaskRunRow): OrchestratedRun {
  return {
    id: row.id,
    flowRunId: row.flow_run_id,
    taskKey: row.task_key,
    tags: row.tags ?? [],
    empiricalPolicy: row.empirical_policy ?? {},
    runCount: row.run_count,
    flowRunRunCount: row.flow_run_run_count,
    stateId: row.state_id,
    stateType: row.state_type,
    stateName: row.state_name,
    stateTimestamp: row.state_timestamp,
    expectedStartTime: row.expected_start_time,
    nextScheduledStartTime: row.next_scheduled_start_time,
    startTime: row.start_time,
    endTime: row.end_time,
    totalRunTime: row.total_run_time,
  };
}

/**
 * Copies the orchestrated fields (and the validated state) back onto a row, for the response. `Object.assign`
 * rather than an object spread: `{ ...row, <19 more keys> }` hits a slow path of V8 (Node 20): ~55 µs a call
 * against ~2 µs (docs/performance.md, "Fourth round"). Same keys, same order, same values.
 */
export function applyOrchestratedRun(
  row: TaskRunRow,
  run: OrchestratedRun,
  state: OrchestrationState | null,
): TaskRunRow {
  return Object.assign({}, row, {
    run_count: run.runCount,
    flow_run_run_count: run.flowRunRunCount,
    state_id: run.stateId,
    state_type: run.stateType,
    state_name: run.stateName,
    state_timestamp: run.stateTimestamp,
    expected_start_time: run.expectedStartTime,
    next_scheduled_start_time: run.nextScheduledStartTime,
    start_time: run.startTime,
    end_time: run.endTime,
    total_run_time: run.totalRunTime,
    s_id: state?.id ?? null,
    s_type: state?.type ?? null,
    s_name: state?.name ?? null,
    s_timestamp: state?.timestamp ?? null,
    s_message: state?.message ?? null,
    s_state_details: state?.state_details ?? null,
    s_data: state?.data ?? null,
    s_artifact_data: null,
  });
}
