import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

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
