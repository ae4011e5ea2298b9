import { Logger } from '@nestjs/common';
import { Deferred, deferred } from '../../common/async/deferred';
import { isRetryableDbError } from '../../common/errors/db-errors';
import { Clock } from '../../common/time/clock';
import { toMicros } from '../../common/time/timestamp';
import { ReceivedEvent } from '../../events/event.types';
import {
  dbRecordableTaskRunFromEvent,
  InvalidTaskRunEventError,
  isRecordableTaskRunEvent,
} from '../../task-runs/bulk/task-run-event.mapper';

/** An event waiting to be recorded, with the failed flushes it has been through (upstream `RetryableEvent`). */
export interface RetryableEvent {
  event: ReceivedEvent;
  attempts: number;
  /** Settles the bus handler: resolved once recorded (or stored as a dead letter), rejected → redelivery. */
  done: Deferred<void>;
}

export interface RecorderConsumerOptions {
  /** Flush when this many events are queued (`…_TASK_RUN_RECORDER_BATCH_SIZE`). */
  batchSize: number;
  /** Flush whatever is queued this often (`…_TASK_RUN_RECORDER_FLUSH_INTERVAL`), in ms. */
  flushIntervalMs: number;
  /** Failed flushes of an event before it goes to the dead-letter table. */
  maxPersistRetries: number;
  /**
   * Batches written at once (default 1). With 2, one batch is mapped and sent while the other waits on the
   * database; concurrent batches touching one run serialise on its row lock, in the fixed lock order.
   */
  concurrentFlushes?: number;
}

export interface RecorderConsumerHooks {
  /** Records the events in one transaction (TaskRunBulkWriter.recordBulkTaskRunEvents). */
  write(events: ReceivedEvent[]): Promise<unknown>;
  /** Stores what the recorder gives up on, with the reason (DeadLettersService). Throws if it cannot. */
  deadLetter(items: { event: ReceivedEvent; attempts: number }[], reason: string): Promise<void>;
  clock: Clock;
  /** Observability (all optional). */
  onFlushed?(outcome: { ok: boolean; events: number; seconds: number; lagSeconds?: number }): void;
  onDeadLettered?(count: number): void;
  /** A problem to report on `/api/ready` (undefined: healthy again). */
  onProblem?(detail: string | undefined): void;
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * The recorder's consumer (upstream `consumer(write_batch_size, flush_every, max_persist_retries)`), as a class:
 * `handle` is the bus handler. Events are queued and recorded in batches, at `batchSize` or every
 * `flushIntervalMs`; the handler's promise settles when its event's batch is committed, so the bus acks only
 * then.
 *
 * Failures, and how nothing is lost:
 * - an event that cannot be mapped to a task run goes straight to the dead-letter table (it can never succeed);
 * - a batch that fails with a data error (integrity, invalid value) is split in halves until the failing
 *   events are alone, so one poison event never holds back the good ones of its batch;
 * - a failed event's attempts += 1; under `maxPersistRetries` it is re-queued for the next flush, else it goes to
 *   the dead-letter table with the error; if even that fails, its handler rejects and the bus redelivers it;
 * - after a transient failure (database down) size-triggered flushes pause until the next periodic flush, so
 *   retries are spaced by the flush interval instead of spinning;
 * - the periodic flush survives every failure; `close()` runs a final flush while the database is open.
 * At most `concurrentFlushes` batches are written at once; a periodic flush never overlaps the previous one.
 */
export class TaskRunRecorderConsumer {
  private readonly logger = new Logger(TaskRunRecorderConsumer.name);
  private queue: RetryableEvent[] = [];
  private timer?: NodeJS.Timeout;
  private backoff = false;
  private closed = false;
  /** Batches being written now, and who waits for a free slot or for none to be left. */
  private active = 0;
  private slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private periodic?: Promise<void>;

  constructor(
    private readonly options: RecorderConsumerOptions,
    private readonly hooks: RecorderConsumerHooks,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  private get maxConcurrent(): number {
    return Math.max(1, this.options.concurrentFlushes ?? 1);
  }

  /** The bus handler. */
  readonly handle = async (event: ReceivedEvent): Promise<void> => {
    if (!isRecordableTaskRunEvent(event)) return;
    if (this.closed) throw new Error('the task run recorder is stopping');
    try {
      dbRecordableTaskRunFromEvent(event);
    } catch (err) {
      if (!(err instanceof InvalidTaskRunEventError)) throw err;
      await this.hooks.deadLetter([{ event, attempts: 1 }], err.message);
      this.hooks.onDeadLettered?.(1);
      return;
    }
    const item: RetryableEvent = { event, attempts: 0, done: deferred<void>() };
    this.queue.push(item);
    this.pump();
    return item.done.promise;
  };

  start(): void {
    this.closed = false;
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref?.();
  }

  /** Flushes everything queued now (the periodic flush; a call while one runs joins it). Never rejects. */
  flush(): Promise<void> {
    this.periodic ??= this.flushQueued().finally(() => {
      this.periodic = undefined;
      this.pump();
    });
    return this.periodic;
  }

  /**
   * Stops the timer and intake and runs the final flush. Every queued event ends recorded, dead-lettered, or
   * (if the database cannot even take dead letters) rejected back to the bus.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.periodic;
    await this.idle();
    for (let round = 0; this.queue.length > 0 && round <= this.options.maxPersistRetries; round++) {
      await this.flushQueued();
      await this.idle();
    }
    for (const item of this.queue.splice(0)) item.done.reject(new Error('the task run recorder stopped'));
  }

  /** Size-triggered flushes: full batches, as many at once as there are free slots. */
  private pump(): void {
    while (
      !this.backoff &&
      !this.periodic &&
      this.active < this.maxConcurrent &&
      this.queue.length >= this.options.batchSize
    ) {
      void this.launch(this.queue.splice(0, this.options.batchSize));
    }
  }

  /** Everything queued now, in batches, through the slots; resolves when all of them are settled. */
  private async flushQueued(): Promise<void> {
    this.backoff = false;
    let budget = this.queue.length;
    const running: Promise<void>[] = [];
    while (budget > 0 && this.queue.length > 0) {
      while (this.active >= this.maxConcurrent) await new Promise<void>((r) => this.slotWaiters.push(r));
      const batch = this.queue.splice(0, Math.min(this.options.batchSize, budget));
      budget -= batch.length;
      running.push(this.launch(batch));
    }
    await Promise.all(running);
  }

  private launch(batch: RetryableEvent[]): Promise<void> {
    this.active += 1;
    return this.record(batch)
      .catch((err: unknown) =>
        this.logger.error({
          msg: 'flush failed unexpectedly',
          error: err instanceof Error ? err.stack : String(err),
        }),
      )
      .finally(() => {
        this.active -= 1;
        this.slotWaiters.shift()?.();
        if (this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        this.pump();
      });
  }

  private idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** Writes one batch, isolating poison events by bisection; settles or re-queues every item. */
  private async record(batch: RetryableEvent[]): Promise<void> {
    if (!batch.length) return;
    const started = performance.now();
    try {
      await this.hooks.write(batch.map((i) => i.event));
    } catch (err) {
      const seconds = (performance.now() - started) / 1000;
      this.hooks.onFlushed?.({ ok: false, events: batch.length, seconds });
      if (batch.length > 1 && !isRetryableDbError(err)) {
        // A data error: find the events that fail on their own.
        const half = Math.ceil(batch.length / 2);
        await this.record(batch.slice(0, half));
        await this.record(batch.slice(half));
        return;
      }
      await this.failed(batch, err);
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    const now = this.hooks.clock.nowMicros();
    const oldest = Math.min(...batch.map((i) => toMicros(i.event.received)));
    this.hooks.onFlushed?.({ ok: true, events: batch.length, seconds, lagSeconds: (now - oldest) / 1e6 });
    this.hooks.onProblem?.(undefined);
    for (const item of batch) item.done.resolve();
  }

  private async failed(batch: RetryableEvent[], err: unknown): Promise<void> {
    const reason = describeError(err);
    if (isRetryableDbError(err)) {
      // The database is unreachable: not ready until a flush succeeds. (A poison event is not a readiness
      // problem: it is retried and dead-lettered on its own.)
      this.backoff = true;
      this.hooks.onProblem?.(`last flush failed: ${reason}`);
    }
    const retry: RetryableEvent[] = [];
    const drop: RetryableEvent[] = [];
    for (const item of batch) {
      item.attempts += 1;
      (item.attempts < this.options.maxPersistRetries && !(err instanceof InvalidTaskRunEventError)
        ? retry
        : drop
      ).push(item);
    }
    this.queue.push(...retry);
    this.logger.warn({
      msg: `Error flushing ${batch.length} events (${retry.length} to retry, ${drop.length} dead-lettered)`,
      error: reason,
    });
    if (!drop.length) return;
    try {
      await this.hooks.deadLetter(
        drop.map((i) => ({ event: i.event, attempts: i.attempts })),
        reason,
      );
      this.hooks.onDeadLettered?.(drop.length);
      for (const item of drop) item.done.resolve();
    } catch (dlqErr) {
      this.logger.error({
        msg: `could not dead-letter ${drop.length} events; handing them back to the bus`,
        error: describeError(dlqErr),
      });
      for (const item of drop) item.done.reject(err);
    }
  }
}
