import { Logger } from '@nestjs/common';
import { Deferred, deferred } from '../../common/async/deferred';
import { isRetryableDbError } from '../../common/errors/db-errors';

/** An item waiting to be written, the failed writes it went through, and its bus handler's settlement. */
export interface BatchItem<T> {
  item: T;
  attempts: number;
  /** Resolved once written (or stored as a dead letter); rejected → the bus redelivers it. */
  done: Deferred<void>;
}

export interface BatchingConsumerOptions {
  /** For logs and errors. */
  name: string;
  /** A write starts when this many items are queued (and a slot is free). */
  batchSize: number;
  /** Items per write at most (default `batchSize`); a size trigger takes everything queued, in writes of this size. */
  maxWrite?: number;
  /** Everything queued is written this often (ms). */
  flushIntervalMs: number;
  /** Failed writes (not counting database outages) before an item goes to the dead-letter table. */
  maxAttempts: number;
  /** Writes in flight at once (default 1). */
  concurrentFlushes?: number;
  /** Database outages in a row after which `drain()`/`close()` give the queued items back (reject). Default 3. */
  maxOutagesAtDrain?: number;
  /**
   * Write what is queued as soon as no write is in flight, instead of waiting for `batchSize` items or the flush
   * interval (default false). Writes start after the current burst of deliveries (one macrotask), so a burst is
   * written together, in writes of up to `maxWrite`; under load the writes in flight make items accumulate and
   * the size triggers take over, so the batches grow with the load.
   */
  flushWhenIdle?: boolean;
}

export interface BatchingConsumerHooks<T> {
  /** Writes the items durably (one transaction); throws on failure. */
  write(items: T[]): Promise<void>;
  /** Stores what the consumer gives up on, with the reason. Throws if it cannot (the items are then rejected). */
  deadLetter(items: { item: T; attempts: number }[], reason: string): Promise<void>;
  /** An error that is nobody's fault in the batch (database unreachable): no bisection, no attempt counted. */
  isOutage?(err: unknown): boolean;
  /** An error that no retry can fix: the items go to the dead-letter table at once. */
  isPermanent?(err: unknown): boolean;
  onFlushed?(outcome: { ok: boolean; items: T[]; seconds: number; error?: unknown }): void;
  onDeadLettered?(count: number): void;
  /** A problem for `/api/ready` (undefined: healthy again). */
  onProblem?(detail: string | undefined): void;
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * The batching machinery every bus-fed service shares (the event persister, the task run recorder):
 *
 * - `handle(item)` queues an item with a deferred and returns its promise, which settles only once the item
 *   is written (or dead-lettered), so a bus acknowledges nothing that is not durable;
 * - writes start at `batchSize` queued items and every `flushIntervalMs` (merged: a flush while one runs
 *   joins it), at most `concurrentFlushes` at once, `maxWrite` items each;
 * - a write that fails with a data error is bisected until the failing items are alone, so one poison item
 *   never holds back its neighbours; each failed item's attempts += 1, and at `maxAttempts` it goes to the
 *   dead-letter table (if even that fails, its promise rejects and the bus redelivers it);
 * - a database outage counts no attempt: the batch goes back to the front of the queue, size-triggered
 *   writes pause until the next periodic flush, and `onProblem` reports it until a write succeeds;
 * - `close()` stops intake and drains; after `maxOutagesAtDrain` outages in a row it rejects what is left
 *   (handed back to the bus) instead of waiting forever.
 */
export class BatchingConsumer<T> {
  private readonly logger: Logger;
  private queue: BatchItem<T>[] = [];
  private timer?: NodeJS.Timeout;
  private backoff = false;
  private closed = false;
  private outage = false;
  private active = 0;
  private slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private periodic?: Promise<void>;
  private pumpScheduled = false;

  constructor(
    private readonly options: BatchingConsumerOptions,
    private readonly hooks: BatchingConsumerHooks<T>,
  ) {
    this.logger = new Logger(options.name);
  }

  /** Items queued, not being written. */
  get depth(): number {
    return this.queue.length;
  }

  /** The last write failed because the database was unreachable. */
  get databaseDown(): boolean {
    return this.outage;
  }

  private get maxConcurrent(): number {
    return Math.max(1, this.options.concurrentFlushes ?? 1);
  }

  private get maxWrite(): number {
    return Math.max(1, this.options.maxWrite ?? this.options.batchSize);
  }

  private isOutage(err: unknown): boolean {
    return (this.hooks.isOutage ?? isRetryableDbError)(err);
  }

  /** Queues an item; the promise settles when it is written (or dead-lettered). */
  handle(item: T): Promise<void> {
    if (this.closed) {
      return Promise.reject(new Error(`${this.options.name} is stopping`));
    }
    const entry: BatchItem<T> = { item, attempts: 0, done: deferred<void>() };
    this.queue.push(entry);
    if (this.options.flushWhenIdle) {
      this.schedulePump();
    } else {
      this.pump();
    }
    return entry.done.promise;
  }

  start(): void {
    this.closed = false;
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      void this.flush();
    }, this.options.flushIntervalMs);
    this.timer.unref?.();
  }

  /** Writes everything queued now (a call while a flush runs joins it). Never rejects. */
  flush(): Promise<void> {
    this.periodic ??= this.flushQueued().finally(() => {
      this.periodic = undefined;
      this.pump();
    });
    return this.periodic;
  }

  /**
   * Flushes until the queue is empty; after `maxOutagesAtDrain` outages in a row, rejects what is left (the
   * bus redelivers it later). Returns whether everything was settled.
   */
  async drain(): Promise<boolean> {
    let outages = 0;
    const limit = this.options.maxOutagesAtDrain ?? 3;
    for (
      let guard = 0;
      guard < 1000 && (this.queue.length > 0 || this.active > 0 || this.periodic);
      guard++
    ) {
      await this.flush();
      await this.idle();
      outages = this.outage ? outages + 1 : 0;
      if (outages >= limit) {
        break;
      }
    }
    const left = this.queue.splice(0);
    if (left.length) {
      this.logger.error({
        msg: 'database unavailable: events left to the bus for redelivery',
        events: left.length,
      });
      for (const entry of left) {
        entry.done.reject(new Error(`${this.options.name} stopped before the database took the event`));
      }
    }
    return left.length === 0;
  }

  /** Stops the timer and intake, then drains. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.drain();
  }

  /** `flushWhenIdle`: one pump after the current burst of deliveries (they arrive synchronously). */
  private schedulePump(): void {
    if (this.pumpScheduled) {
      return;
    }
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Size-triggered writes: everything queued, in writes of `maxWrite`, as many at once as slots are free; with
   * `flushWhenIdle`, also whatever is queued when no write is in flight.
   */
  private pump(): void {
    while (
      !this.backoff &&
      !this.periodic &&
      this.active < this.maxConcurrent &&
      this.queue.length > 0 &&
      (this.queue.length >= this.options.batchSize ||
        (this.options.flushWhenIdle === true && this.active === 0))
    ) {
      void this.launch(this.queue.splice(0, this.maxWrite));
    }
  }

  /** Everything queued now, through the slots; resolves when all of it is settled or re-queued. */
  private async flushQueued(): Promise<void> {
    this.backoff = false;
    let budget = this.queue.length;
    const running: Promise<void>[] = [];
    while (budget > 0 && this.queue.length > 0 && !this.backoff) {
      while (this.active >= this.maxConcurrent) {
        await new Promise<void>((r) => this.slotWaiters.push(r));
      }
      if (this.backoff) {
        break;
      }
      const batch = this.queue.splice(0, Math.min(this.maxWrite, budget));
      budget -= batch.length;
      running.push(this.launch(batch));
    }
    await Promise.all(running);
  }

  private launch(batch: BatchItem<T>[]): Promise<void> {
    this.active += 1;
    return this.record(batch)
      .catch((err: unknown) =>
        this.logger.error({ msg: 'write failed unexpectedly', error: describeError(err) }),
      )
      .finally(() => {
        this.active -= 1;
        this.slotWaiters.shift()?.();
        if (this.active === 0) {
          for (const resolve of this.idleWaiters.splice(0)) {
            resolve();
          }
        }
        this.pump();
      });
  }

  private idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** Writes one batch, bisecting on data errors; settles or re-queues every item. */
  private async record(batch: BatchItem<T>[]): Promise<void> {
    if (!batch.length) {
      return;
    }
    const started = performance.now();
    const items = batch.map((b) => b.item);
    try {
      await this.hooks.write(items);
    } catch (err) {
      this.hooks.onFlushed?.({ ok: false, items, seconds: (performance.now() - started) / 1000, error: err });
      const outage = this.isOutage(err);
      if (batch.length > 1 && !outage) {
        const half = Math.ceil(batch.length / 2);
        await this.record(batch.slice(0, half));
        await this.record(batch.slice(half));
        return;
      }
      await this.failed(batch, err, outage);
      return;
    }
    this.hooks.onFlushed?.({ ok: true, items, seconds: (performance.now() - started) / 1000 });
    if (this.outage) {
      this.outage = false;
      this.hooks.onProblem?.(undefined);
    }
    for (const entry of batch) {
      entry.done.resolve();
    }
  }

  private async failed(batch: BatchItem<T>[], err: unknown, outage: boolean): Promise<void> {
    const reason = describeError(err);
    if (outage) {
      // Nobody's fault in the batch: keep it, in order, count nothing, and pause size triggers.
      this.backoff = true;
      this.outage = true;
      this.queue.unshift(...batch);
      this.hooks.onProblem?.(`database unavailable, ${this.queue.length} events buffered: ${reason}`);
      this.logger.warn({ msg: 'write failed: database unavailable', events: batch.length, error: reason });
      return;
    }
    const retry: BatchItem<T>[] = [];
    const exhausted: BatchItem<T>[] = [];
    const permanent = this.hooks.isPermanent?.(err) ?? false;
    for (const entry of batch) {
      entry.attempts += 1;
      (entry.attempts < this.options.maxAttempts && !permanent ? retry : exhausted).push(entry);
    }
    this.queue.unshift(...retry);
    this.logger.warn({
      msg: 'write failed',
      events: batch.length,
      retrying: retry.length,
      deadLettering: exhausted.length,
      error: reason,
    });
    if (exhausted.length) {
      await this.deadLetter(exhausted, reason);
    }
  }

  private async deadLetter(entries: BatchItem<T>[], reason: string): Promise<void> {
    try {
      await this.hooks.deadLetter(
        entries.map((e) => ({ item: e.item, attempts: e.attempts })),
        reason,
      );
      this.hooks.onDeadLettered?.(entries.length);
      for (const entry of entries) {
        entry.done.resolve();
      }
    } catch (err) {
      this.logger.error({
        msg: 'dead-lettering failed; the bus will redeliver',
        events: entries.length,
        error: describeError(err),
      });
      for (const entry of entries) {
        entry.done.reject(err);
      }
    }
  }
}
