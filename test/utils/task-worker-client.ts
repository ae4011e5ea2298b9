import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { TaskQueueKind, TaskQueueStore } from '../../src/task-queues/task-queue.store';

export const SUBSCRIPTION_PATH = '/api/task_runs/subscriptions/scheduled';

export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * A task worker as Prefect's client speaks to `/api/task_runs/subscriptions/scheduled`: `prefect`
 * subprotocol, auth, subscribe, then it receives TaskRun JSON frames and answers `ack` / `quit`.
 */
export class TaskWorkerClient {
  readonly received: Record<string, unknown>[] = [];
  readonly closed: Promise<CloseInfo>;
  private readonly inbox: unknown[] = [];
  private waiter?: () => void;
  private isClosed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as unknown;
      this.inbox.push(message);
      this.waiter?.();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.isClosed = true;
        this.waiter?.();
        resolve({ code, reason: reason.toString() });
      }),
    );
  }

  static async open(
    wsUrl: string,
    opts: { protocol?: boolean; token?: string | null; auth?: boolean } = {},
  ): Promise<TaskWorkerClient> {
    const ws = new WebSocket(`${wsUrl}${SUBSCRIPTION_PATH}`, opts.protocol === false ? [] : ['prefect']);
    const client = new TaskWorkerClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if (opts.protocol !== false && opts.auth !== false) {
      ws.send(JSON.stringify({ type: 'auth', token: opts.token ?? null }));
    }
    return client;
  }

  /** Opens, authenticates (when using the subprotocol) and subscribes. */
  static async subscribe(
    wsUrl: string,
    keys: string[],
    clientId = `worker-${randomUUID()}`,
    opts: { protocol?: boolean; token?: string | null } = {},
  ): Promise<TaskWorkerClient> {
    const client = await TaskWorkerClient.open(wsUrl, opts);
    if (opts.protocol !== false) {
      const first = await client.next(10_000);
      if ((first as { type?: string } | undefined)?.type !== 'auth_success') {
        throw new Error(`expected auth_success, got ${JSON.stringify(first)}`);
      }
    }
    client.send({ type: 'subscribe', keys, client_id: clientId });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next frame, or undefined after `timeoutMs` (or once closed). */
  async next(timeoutMs = 10_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (this.isClosed || Date.now() >= deadline) {
        return undefined;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.inbox.shift();
  }

  /** The next delivered task run; throws when none arrives in time. */
  async nextRun(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const run = (await this.next(timeoutMs)) as Record<string, unknown> | undefined;
    if (!run) {
      throw new Error(`no task run delivered within ${timeoutMs} ms`);
    }
    this.received.push(run);
    return run;
  }

  ack(): void {
    this.send({ type: 'ack' });
  }

  quit(): void {
    this.send({ type: 'quit' });
  }

  async close(): Promise<CloseInfo> {
    if (!this.isClosed) {
      this.ws.close();
    }
    return this.closed;
  }

  /** Drops the TCP connection without a close frame (a crashed worker). */
  terminate(): void {
    this.ws.terminate();
  }
}

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
