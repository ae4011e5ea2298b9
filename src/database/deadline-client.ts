import { Client, ClientConfig } from 'pg';

/**
 * Raised when the database gives no answer to a query within its client-side deadline. Carries the
 * network code `ETIMEDOUT`, so every caller that classifies database errors (`isRetryableDbError`) treats
 * it as an outage: 503 on HTTP, retry later in the services.
 */
export class QueryDeadlineError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(readonly deadlineMs: number) {
    super(`Query timed out: no answer from the database within ${deadlineMs} ms`);
    this.name = 'QueryDeadlineError';
  }
}

export interface DeadlineClientConfig extends ClientConfig {
  /** Client-side deadline of every query in ms (queue time included); 0 or unset: none. */
  query_timeout?: number;
}

type Callback = (err: Error | null, result?: unknown) => void;

type CorkableStream = { cork(): void; uncork(): void };

/** pg's own `Client#query` (what `super.query` calls), seen through one untyped-argument signature. */
const baseQuery = Client.prototype.query as (
  this: Client,
  config: unknown,
  values?: unknown,
  callback?: unknown,
) => unknown;

/**
 * A `pg` client whose queries carry a client-side deadline that also holds when the server cannot answer
 * at all (frozen, partitioned): PostgreSQL's own `statement_timeout` needs a running server. When a query
 * misses its deadline the caller gets a `QueryDeadlineError` and the connection is destroyed, never reused:
 * its session still owes the answer, so anything queued behind it would wait too. The pool then opens a
 * fresh connection (itself bounded by `connectionTimeoutMillis`). pg's own `query_timeout` is not used
 * because it keeps that connection. Streaming queries (cursors, COPY) are not covered. See
 * docs/operating.md ("Limits and timeouts").
 */
export class DeadlineClient extends Client {
  private readonly deadlineMs: number;
  private corked = false;

  constructor(config?: string | DeadlineClientConfig) {
    const deadlineMs = typeof config === 'object' ? (config.query_timeout ?? 0) : 0;
    super(typeof config === 'object' ? { ...config, query_timeout: undefined } : config);
    this.deadlineMs = deadlineMs;
    // A destroyed connection emits 'error'; the pool and TypeORM listen, but a client between owners must
    // not crash the process over a connection we chose to drop.
    this.on('error', () => undefined);
  }

  // pg's `query` has many overloads; this keeps them all and only adds the deadline. One implementation that
  // overrides every overload must return a type assignable to each of theirs (void, a Promise, a Submittable):
  // only `any` is. The arguments stay `unknown` and go to pg's own implementation untouched.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see the comment above (pg's overloads)
  override query(config: unknown, values?: unknown, callback?: unknown): any {
    this.corkForThisTick();
    if (
      !(this.deadlineMs > 0) ||
      typeof (config as { submit?: unknown } | null | undefined)?.submit === 'function'
    ) {
      return baseQuery.call(this, config, values, callback);
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    if (typeof callback === 'function') {
      baseQuery.call(this, config, values, this.withDeadline(callback as Callback));
      return undefined;
    }
    return new Promise((resolve, reject) => {
      baseQuery.call(
        this,
        config,
        values,
        this.withDeadline((err, result) => (err ? reject(err) : resolve(result))),
      );
    });
  }

  private withDeadline(callback: Callback): Callback {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) {
        return;
      }
      settled = true;
      callback(new QueryDeadlineError(this.deadlineMs));
      this.abandon();
    }, this.deadlineMs);
    return (err, result) => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      callback(err, result);
    };
  }

  /**
   * In pipeline mode, the statements issued in one turn of the event loop (a transaction's BEGIN and its first
   * statements, a write and the COMMIT behind it) leave in one socket write instead of one each: fewer system
   * calls here and fewer wake-ups and reads for the PostgreSQL backend (docs/performance.md, "Sixth round").
   * pg corks the socket around each statement's messages itself; corks nest, so ours holds them until the
   * current tick's work (its microtasks included) is done.
   */
  private corkForThisTick(): void {
    if (this.corked || !(this as unknown as { pipeline?: boolean }).pipeline) {
      return;
    }
    const stream = (this as unknown as { connection?: { stream?: CorkableStream } }).connection?.stream;
    if (!stream || typeof stream.cork !== 'function') {
      return;
    }
    this.corked = true;
    stream.cork();
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  /** Drops the connection: pending queries fail, the pool discards this client on release. */
  private abandon(): void {
    const stream = (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    stream?.destroy();
  }
}
