import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TaskQueueKind, TaskQueueStore } from '../../src/task-queues/task-queue.store';

/*
 * Task runs written with plain SQL, for tests and benches of the delivery store that must not go through the
 * task-runs module (API-level runs: task-run.factory.ts).
 */

/** A minimal TaskRun JSON (what TaskRunsService snapshots) for a deferred SCHEDULED run. */
export function taskRunSnapshot(
  id: string,
  taskKey: string,
  stateName = 'Scheduled',
): Record<string, unknown> {
  return {
    id,
    name: `run-${id.slice(0, 8)}`,
    flow_run_id: null,
    task_key: taskKey,
    dynamic_key: id,
    state_type: 'SCHEDULED',
    state_name: stateName,
    state: {
      type: 'SCHEDULED',
      name: stateName,
      state_details: { deferred: true, task_run_id: id },
    },
  };
}

/** Inserts a flow-less task run with a deferred SCHEDULED state (plain SQL, as TaskRunsService would). */
export async function insertDeferredRun(
  ds: DataSource | { query: DataSource['query'] },
  taskKey: string,
  opts: { id?: string; stateName?: string; deferred?: boolean } = {},
): Promise<string> {
  const id = opts.id ?? randomUUID();
  const stateId = randomUUID();
  const stateName = opts.stateName ?? 'Scheduled';
  await ds.query(
    `WITH run AS (
       INSERT INTO task_run (id, name, task_key, dynamic_key, state_id, state_type, state_name, state_timestamp)
       VALUES ($1::uuid, $2, $3, $1::text, $4, 'SCHEDULED', $5, clock_timestamp()) RETURNING id)
     INSERT INTO task_run_state (id, task_run_id, type, name, state_details)
     SELECT $4, id, 'SCHEDULED', $5, $6::jsonb FROM run`,
    [
      id,
      `run-${id.slice(0, 8)}`,
      taskKey,
      stateId,
      stateName,
      JSON.stringify({ deferred: opts.deferred ?? true }),
    ],
  );
  return id;
}

/** Creates a deferred run and enqueues it through the store in one transaction (the orchestration path). */
export async function enqueueRun(
  ds: DataSource,
  store: TaskQueueStore,
  taskKey: string,
  queue: TaskQueueKind = 'scheduled',
): Promise<string> {
  return ds.transaction(async (manager) => {
    const id = await insertDeferredRun(manager, taskKey, {
      stateName: queue === 'retry' ? 'AwaitingRetry' : 'Scheduled',
    });
    await store.enqueue(manager, { taskRunId: id, taskKey, snapshot: taskRunSnapshot(id, taskKey) }, queue);
    return id;
  });
}
