import { randomUUID } from 'node:crypto';
import { fromMicros, toMicros } from '../../src/common/time/timestamp';
import { ReceivedEvent } from '../../src/events/event.types';
import { defaultStateName, StateType } from '../../src/orchestration/states';

export interface TaskRunEventOptions {
  taskRunId: string;
  flowRunId?: string | null;
  type: StateType;
  name?: string;
  /** Canonical µs timestamp (state timestamp = event occurred). */
  occurred: string;
  id?: string;
  /** `payload.task_run`; default: a full client payload for task_key `my-task`, dynamic_key `0`. */
  taskRun?: Record<string, unknown>;
  message?: string | null;
  data?: unknown;
  received?: string;
  orchestration?: string;
  event?: string;
}

export const BASE_TIME = Date.UTC(2026, 0, 2, 3, 4, 5) * 1000;

/** `BASE_TIME` plus `n` µs, canonical. */
export function at(n: number): string {
  return fromMicros(BASE_TIME + n);
}

export function fullTaskRunPayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'my-task-0',
    task_key: 'my-task',
    dynamic_key: '0',
    empirical_policy: { max_retries: 0, retry_delay_seconds: 0, retries: 0, retry_delay: 0 },
    tags: ['a', 'b'],
    labels: { team: 'data' },
    task_inputs: { x: [] },
    run_count: 0,
    flow_run_run_count: 1,
    expected_start_time: at(0),
    total_run_time: 0,
    ...overrides,
  };
}

/** A client-side task-run state event, as `emit_task_run_state_change_event` sends it (docs/reference.md §6). */
export function taskRunEvent(o: TaskRunEventOptions): ReceivedEvent {
  const name = o.name ?? defaultStateName(o.type);
  const related = o.flowRunId
    ? [
        {
          'prefect.resource.id': `prefect.flow-run.${o.flowRunId}`,
          'prefect.resource.role': 'flow-run',
          'prefect.resource.name': 'my-flow-run',
        },
      ]
    : [];
  return {
    id: o.id ?? randomUUID(),
    occurred: o.occurred,
    event: o.event ?? `prefect.task-run.${name}`,
    resource: {
      'prefect.resource.id': `prefect.task-run.${o.taskRunId}`,
      'prefect.resource.name': 'my-task-0',
      'prefect.state-name': name,
      'prefect.state-type': o.type,
      'prefect.orchestration': o.orchestration ?? 'client',
    },
    related: [{ 'prefect.resource.id': 'prefect.tag.a', 'prefect.resource.role': 'tag' }, ...related],
    payload: {
      intended: { from: null, to: o.type },
      initial_state: null,
      validated_state: {
        type: o.type,
        name,
        message: o.message ?? '',
        state_details: {},
        data: o.data ?? null,
      },
      task_run: o.taskRun ?? fullTaskRunPayload(),
    },
    follows: null,
    received: o.received ?? fromMicros(toMicros(o.occurred) + 1000),
  };
}

/** Pending, Running, Completed of one run at t, t+1 s, t+2 s, with the fields a client sends at each. */
export function runLifecycle(
  taskRunId: string,
  flowRunId: string | null,
  t0 = 0,
  taskKey = 'my-task',
  dynamicKey = '0',
): ReceivedEvent[] {
  const base = fullTaskRunPayload({ task_key: taskKey, dynamic_key: dynamicKey });
  return [
    taskRunEvent({ taskRunId, flowRunId, type: 'PENDING', occurred: at(t0), taskRun: base }),
    taskRunEvent({
      taskRunId,
      flowRunId,
      type: 'RUNNING',
      occurred: at(t0 + 1_000_000),
      taskRun: { ...base, run_count: 1, start_time: at(t0 + 1_000_000) },
    }),
    taskRunEvent({
      taskRunId,
      flowRunId,
      type: 'COMPLETED',
      occurred: at(t0 + 2_000_000),
      taskRun: {
        ...base,
        run_count: 1,
        start_time: at(t0 + 1_000_000),
        end_time: at(t0 + 2_000_000),
        total_run_time: 1,
      },
    }),
  ];
}
