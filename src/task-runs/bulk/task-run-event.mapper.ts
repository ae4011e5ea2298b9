import { normalizeTimestamp, Timestamp, toMicros } from '../../common/time/timestamp';
import { isUuid } from '../../common/validation/uuid';
import { ReceivedEvent } from '../../events/event.types';
import { defaultStateName, isStateType, StateType } from '../../orchestration/states';

/**
 * Client-emitted task-run events → task_run rows and task_run_state rows (docs/reference.md §5.3 step 1, §6).
 *
 * Prefect clients orchestrate most tasks themselves and only report each state change as a
 * `prefect.task-run.<State>` event. These pure functions turn one such event into
 * - `taskRunFromEvent`: the task run it describes (id and flow run from the resources, the state from
 *   `payload.validated_state`, the explicitly present fields of `payload.task_run`);
 * - `dbRecordableTaskRunFromEvent`: the row to upsert (only the columns the event supplies, so omitted fields
 *   stay untouched and explicit nulls clear) and the state row to insert.
 *
 * Deliberately stricter than upstream (docs/reference.md §8 point 7): the task-run id and flow-run id come from the resources
 * only (payload keys `id`/`flow_run_id`/`state*`/`created`/`updated`/`estimated_*` are ignored), and every column
 * value is type-checked here, so a malformed event fails at once as a poison event instead of in the database.
 */

export const TASK_RUN_EVENT_PREFIX = 'prefect.task-run';
const TASK_RUN_RESOURCE_PREFIX = 'prefect.task-run.';
const FLOW_RUN_RESOURCE_PREFIX = 'prefect.flow-run.';

/** An event the recorder cannot turn into a task run: it will never succeed, whatever the retries. */
export class InvalidTaskRunEventError extends Error {
  constructor(
    readonly eventId: string,
    reason: string,
  ) {
    super(`Event ${eventId} is not a recordable task-run event: ${reason}`);
    this.name = 'InvalidTaskRunEventError';
  }
}

/** Upstream's filter (docs/reference.md §5.3): a bare `prefect.task-run` prefix and `prefect.orchestration=client`. */
export function isRecordableTaskRunEvent(event: Pick<ReceivedEvent, 'event' | 'resource'>): boolean {
  return (
    typeof event.event === 'string' &&
    event.event.startsWith(TASK_RUN_EVENT_PREFIX) &&
    event.resource?.['prefect.orchestration'] === 'client'
  );
}

export interface RecordedState {
  /** The event id (the client uses the state id as the event id). */
  id: string;
  type: StateType;
  name: string;
  /** The event's `occurred`, canonical µs. */
  timestamp: Timestamp;
  message: string | null;
  stateDetails: Record<string, unknown>;
  data: unknown;
}

/** The task_run columns an event may write, with their SQL types. */
export const TASK_RUN_COLUMNS = {
  id: 'uuid',
  name: 'text',
  flow_run_id: 'uuid',
  task_key: 'text',
  dynamic_key: 'text',
  cache_key: 'text',
  cache_expiration: 'timestamptz',
  task_version: 'text',
  flow_run_run_count: 'int4',
  run_count: 'int4',
  empirical_policy: 'jsonb',
  task_inputs: 'jsonb',
  tags: 'jsonb',
  labels: 'jsonb',
  state_id: 'uuid',
  state_type: 'state_type',
  state_name: 'text',
  state_timestamp: 'timestamptz',
  expected_start_time: 'timestamptz',
  next_scheduled_start_time: 'timestamptz',
  start_time: 'timestamptz',
  end_time: 'timestamptz',
  total_run_time: 'interval',
} as const;

export type TaskRunColumn = keyof typeof TASK_RUN_COLUMNS;

/**
 * Columns that are nullable with no default (docs/reference.md §5.3 step 5, "fillable"): rows that omit them can share a
 * multi-row statement with rows that supply them (`COALESCE(excluded.col, task_run.col)`).
 */
export const FILLABLE_COLUMNS: ReadonlySet<TaskRunColumn> = new Set<TaskRunColumn>([
  'cache_key',
  'cache_expiration',
  'task_version',
  'labels',
  'expected_start_time',
  'next_scheduled_start_time',
  'start_time',
  'end_time',
]);

/** The fields of `payload.task_run` the recorder writes (everything else in the payload is ignored). */
type PayloadField = Exclude<
  TaskRunColumn,
  'id' | 'flow_run_id' | 'state_id' | 'state_type' | 'state_name' | 'state_timestamp'
>;

/** A parameter value as the SQL layer takes it (JSON columns already serialised). */
export type SqlValue = string | number | null;

/**
 * The row to upsert: exactly the columns the event supplies. `id`, `flow_run_id`, `task_key`, `dynamic_key` and
 * the `state_*` columns are always present; the rest only when the payload had the key.
 */
export type TaskRunUpsertRow = { [K in TaskRunColumn]?: SqlValue } & {
  id: string;
  flow_run_id: string | null;
  task_key: string;
  dynamic_key: string;
  state_id: string;
  state_type: StateType;
  state_name: string;
  state_timestamp: Timestamp;
};

export interface TaskRunFromEvent {
  id: string;
  flowRunId: string | null;
  state: RecordedState;
  /** The explicitly present, validated fields of `payload.task_run`, in wire form. */
  fields: Partial<Record<PayloadField, unknown>>;
}

export interface RecordableTaskRun {
  /** The event it came from. */
  eventId: string;
  row: TaskRunUpsertRow;
  state: RecordedState;
  /** `state.timestamp` in µs, for ordering. */
  stateMicros: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function uuidFromResource(value: string | undefined, prefix: string): string | undefined {
  if (typeof value !== 'string' || !value.startsWith(prefix)) {
    return undefined;
  }
  const id = value.slice(prefix.length);
  return isUuid(id) ? id.toLowerCase() : undefined;
}

type FieldParser = (value: unknown) => unknown;

const text: FieldParser = (v) => {
  if (typeof v !== 'string') {
    throw new Error('must be a string');
  }
  return v;
};
const nullableText: FieldParser = (v) => (v === null ? null : text(v));
const timestamp: FieldParser = (v) => {
  if (v === null) {
    return null;
  }
  if (typeof v !== 'string') {
    throw new Error('must be an ISO-8601 datetime');
  }
  return normalizeTimestamp(v);
};
const count: FieldParser = (v) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2_147_483_647) {
    throw new Error('must be a non-negative integer');
  }
  return v;
};
const object: FieldParser = (v) => {
  if (!isPlainObject(v)) {
    throw new Error('must be an object');
  }
  return v;
};
const nullableObject: FieldParser = (v) => (v === null ? null : object(v));
const stringList: FieldParser = (v) => {
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'string')) {
    throw new Error('must be a list of strings');
  }
  return v as string[];
};
const seconds: FieldParser = (v) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error('must be a number of seconds ≥ 0');
  }
  return v;
};

const PAYLOAD_FIELDS: Record<PayloadField, FieldParser> = {
  name: text,
  task_key: text,
  dynamic_key: text,
  cache_key: nullableText,
  cache_expiration: timestamp,
  task_version: nullableText,
  flow_run_run_count: count,
  run_count: count,
  empirical_policy: object,
  task_inputs: object,
  tags: stringList,
  labels: nullableObject,
  expected_start_time: timestamp,
  next_scheduled_start_time: timestamp,
  start_time: timestamp,
  end_time: timestamp,
  total_run_time: seconds,
};

/** The task run an event describes (upstream `task_run_from_event`). Throws `InvalidTaskRunEventError`. */
export function taskRunFromEvent(event: ReceivedEvent): TaskRunFromEvent {
  const eventId = String(event?.id);
  const fail = (reason: string): never => {
    throw new InvalidTaskRunEventError(eventId, reason);
  };
  if (!isUuid(event?.id)) {
    fail('the event id must be a UUID');
  }

  const id = uuidFromResource(event.resource?.['prefect.resource.id'], TASK_RUN_RESOURCE_PREFIX);
  if (!id) {
    fail(
      `resource id ${JSON.stringify(event.resource?.['prefect.resource.id'])} is not prefect.task-run.<uuid>`,
    );
  }

  let flowRunId: string | null = null;
  const flowRun = (event.related ?? []).find((r) => r?.['prefect.resource.role'] === 'flow-run');
  if (flowRun) {
    flowRunId = uuidFromResource(flowRun['prefect.resource.id'], FLOW_RUN_RESOURCE_PREFIX) ?? null;
    if (!flowRunId) {
      fail(
        `related flow-run ${JSON.stringify(flowRun['prefect.resource.id'])} is not prefect.flow-run.<uuid>`,
      );
    }
  }

  const payload = isPlainObject(event.payload) ? event.payload : {};
  const validated = payload.validated_state;
  const taskRun = payload.task_run;
  if (!isPlainObject(validated)) {
    fail('payload.validated_state is missing');
  }
  if (!isPlainObject(taskRun)) {
    fail('payload.task_run is missing');
  }
  const v = validated as Record<string, unknown>;

  if (!isStateType(v.type)) {
    fail(`validated_state.type ${JSON.stringify(v.type)} is not a state type`);
  }
  const type = v.type as StateType;
  if (v.name != null && typeof v.name !== 'string') {
    fail('validated_state.name must be a string');
  }
  if (v.message != null && typeof v.message !== 'string') {
    fail('validated_state.message must be a string');
  }
  if (v.state_details != null && !isPlainObject(v.state_details)) {
    fail('validated_state.state_details must be an object');
  }

  let occurred: Timestamp;
  try {
    occurred = normalizeTimestamp(event.occurred);
  } catch {
    return fail(`occurred ${JSON.stringify(event.occurred)} is not a datetime`);
  }

  const state: RecordedState = {
    id: event.id.toLowerCase(),
    type,
    name: typeof v.name === 'string' && v.name !== '' ? v.name : defaultStateName(type),
    timestamp: occurred,
    message: typeof v.message === 'string' ? v.message : null,
    stateDetails: {
      ...((v.state_details as Record<string, unknown> | undefined) ?? {}),
      task_run_id: id,
      flow_run_id: flowRunId,
    },
    data: v.data ?? null,
  };

  const fields: Partial<Record<PayloadField, unknown>> = {};
  for (const [key, parse] of Object.entries(PAYLOAD_FIELDS) as [PayloadField, FieldParser][]) {
    if (!Object.prototype.hasOwnProperty.call(taskRun, key)) {
      continue;
    }
    const raw = (taskRun as Record<string, unknown>)[key];
    // A null or empty name is "no name" (docs/reference.md §1.7): keep the stored one, or a fresh slug for a new run.
    if (key === 'name' && (raw === null || raw === '')) {
      continue;
    }
    try {
      fields[key] = parse(raw);
    } catch (err) {
      fail(`task_run.${key} ${(err as Error).message}`);
    }
  }
  if (fields.task_key === undefined) {
    fail('task_run.task_key is required');
  }
  if (fields.dynamic_key === undefined) {
    fail('task_run.dynamic_key is required');
  }

  return { id: id!, flowRunId, state, fields };
}

function toSql(column: PayloadField, value: unknown): SqlValue {
  if (value === null) {
    return null;
  }
  switch (TASK_RUN_COLUMNS[column]) {
    case 'jsonb':
      return JSON.stringify(value);
    case 'interval':
      return `${value as number} seconds`;
    case 'int4':
      return value as number;
    case 'text':
    case 'timestamptz':
      return value as string;
  }
}

/** The row and state row an event records (upstream `db_recordable_task_run_from_event`). */
export function dbRecordableTaskRunFromEvent(event: ReceivedEvent): RecordableTaskRun {
  const { id, flowRunId, state, fields } = taskRunFromEvent(event);
  const row = {
    id,
    flow_run_id: flowRunId,
    state_id: state.id,
    state_type: state.type,
    state_name: state.name,
    state_timestamp: state.timestamp,
  } as TaskRunUpsertRow;
  for (const [key, value] of Object.entries(fields) as [PayloadField, unknown][]) {
    (row as Record<string, SqlValue>)[key] = toSql(key, value);
  }
  return { eventId: state.id, row, state, stateMicros: toMicros(state.timestamp) };
}
