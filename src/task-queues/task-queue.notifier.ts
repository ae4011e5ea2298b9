import { Logger } from '@nestjs/common';
import { Client } from 'pg';

/** The PostgreSQL channel every replica listens on; the payload is the task key (or `*`: wake everyone). */
export const TASK_QUEUE_CHANNEL = 'prefect_task_queue';
/** NOTIFY payloads must stay under 8000 bytes; longer keys wake every waiter instead. */
export const MAX_NOTIFY_KEY_BYTES = 7000;
export const WAKE_ALL = '*';

export function notifyPayload(taskKey: string): string {
  return Buffer.byteLength(taskKey, 'utf8') > MAX_NOTIFY_KEY_BYTES ? WAKE_ALL : taskKey;
}

/** How often the LISTEN connection proves it is alive, and how long the proof may take (see TaskQueueListener). */
export const LISTENER_CHECK_MS = 5000;
export const LISTENER_CHECK_TIMEOUT_MS = 5000;

interface Waiter {
  keys: ReadonlySet<string>;
  wake: () => void;
}

/**
 * Waiters for queue work in this process, woken by `NOTIFY` from any replica. A notification for a key wakes
 * one waiter on that key (the longest waiting); the store wakes the next one after each successful claim, so
 * a burst of work (PostgreSQL coalesces equal notifications of one transaction) fans out without a herd.
 */
export class WaiterRegistry {
  private readonly waiters = new Set<Waiter>();

  get size(): number {
    return this.waiters.size;
  }

  wait(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { keys: new Set(keys), wake: finish };
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener('abort', finish, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Wakes one waiter subscribed to `key` (every waiter for `*`). */
  wakeOne(key: string): void {
    if (key === WAKE_ALL) {
      return this.wakeAll();
    }
    for (const waiter of this.waiters) {
      if (waiter.keys.has(key)) {
        waiter.wake();
        return;
      }
    }
  }

  wakeAll(): void {
    for (const waiter of [...this.waiters]) {
      waiter.wake();
    }
  }
}

/**
 * A dedicated PostgreSQL connection that `LISTEN`s on the queue channel and forwards notifications to the
 * waiters. On loss it reconnects with backoff and then wakes everyone (notifications may have been missed;
 * waiters also re-poll on their own 1 s timeout, so nothing is stranded meanwhile). A connection that dies
 * without an error (a half-open TCP connection: no FIN, no RST) is caught by a `SELECT 1` every
 * LISTENER_CHECK_MS that must answer within LISTENER_CHECK_TIMEOUT_MS.
 */
export class TaskQueueListener {
  private readonly logger = new Logger(TaskQueueListener.name);
  private client?: Client;
  private stopped = true;
  private reconnectTimer?: NodeJS.Timeout;
  private backoffMs = 100;
  private connected = false;
  private checkTimer?: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly connectionString: string,
    private readonly applicationName: string,
    private readonly onNotify: (payload: string) => void,
    private readonly onReconnect: () => void,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
    this.checkTimer = setInterval(() => void this.check(), LISTENER_CHECK_MS);
    this.checkTimer.unref();
  }

  /** Proves the connection still answers; one that does not is treated as lost (and replaced). */
  private async check(): Promise<void> {
    const client = this.client;
    if (!client || !this.connected || this.checking) {
      return;
    }
    this.checking = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${LISTENER_CHECK_TIMEOUT_MS} ms`)),
            LISTENER_CHECK_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (err) {
      this.lost(client, err);
    } finally {
      clearTimeout(timer);
      this.checking = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.checkTimer);
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    if (client) {
      await client.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.connectionString,
      application_name: this.applicationName,
      keepAlive: true,
    });
    client.on('notification', (msg) => this.onNotify(msg.payload ?? WAKE_ALL));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${TASK_QUEUE_CHANNEL}`);
      this.connected = true;
      this.backoffMs = 100;
    } catch (err) {
      this.lost(client, err);
    }
  }

  private lost(client: Client, err: unknown): void {
    if (client !== this.client) {
      return;
    }
    this.client = undefined;
    this.connected = false;
    void client.end().catch(() => undefined);
    if (this.stopped) {
      return;
    }
    this.logger.warn({ msg: 'task queue listener lost its connection; reconnecting', error: String(err) });
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    this.reconnectTimer = setTimeout(() => {
      void this.connect()
        .then(() => {
          if (this.connected) {
            this.onReconnect();
          }
        })
        .catch((e: unknown) =>
          this.logger.error({ msg: 'task queue listener reconnect failed', error: String(e) }),
        );
    }, delay);
  }
}
