import { BatchingConsumer } from '../../background/batching/batching-consumer';
import { Clock } from '../../common/time/clock';
import { toMicros } from '../../common/time/timestamp';
import { ReceivedEvent } from '../../events/event.types';
import {
  dbRecordableTaskRunFromEvent,
  InvalidTaskRunEventError,
  isRecordableTaskRunEvent,
  RecordableTaskRun,
} from '../../task-runs/bulk/task-run-event.mapper';

/** A queued event and its mapping (done once, when it arrives). */
interface MappedEvent {
  event: ReceivedEvent;
  record: RecordableTaskRun;
}

export interface RecorderConsumerOptions {
  /** Flush when this many events are queued (`…_TASK_RUN_RECORDER_BATCH_SIZE`). */
  batchSize: number;
  /** Flush whatever is queued this often (`…_TASK_RUN_RECORDER_FLUSH_INTERVAL`), in ms. */
  flushIntervalMs: number;
  /** Failed flushes of an event (database outages not counted) before it goes to the dead-letter table. */
  maxPersistRetries: number;
  /**
   * Batches written at once (default 1). With 2, one batch is mapped and sent while the other waits on the
   * database; concurrent batches touching one run serialise on its row lock, in the fixed lock order.
   */
  concurrentFlushes?: number;
  /**
   * Events per write at most (default `batchSize`). A write takes everything queued up to this, so under a
   * backlog a run's events share a write more often and are written as one row version.
   */
  maxWrite?: number;
  /**
   * Write what is queued as soon as no write is in flight (default false: at `batchSize` or every interval).
   * The service turns it on (docs/task-run-recorder.md, "Flush triggers").
   */
  flushWhenIdle?: boolean;
}

export interface RecorderConsumerHooks {
  /**
   * Records the events in one transaction (TaskRunBulkWriter.recordBulkTaskRunEvents); `records` are the events
   * already mapped when they arrived, in the same order (so the writer does not map them again).
   */
  write(events: ReceivedEvent[], records: RecordableTaskRun[]): Promise<unknown>;
  /** Stores what the recorder gives up on, with the reason (DeadLettersService). Throws if it cannot. */
  deadLetter(items: { event: ReceivedEvent; attempts: number }[], reason: string): Promise<void>;
  clock: Clock;
  /** Observability (all optional). */
  onFlushed?(outcome: { ok: boolean; events: number; seconds: number; lagSeconds?: number }): void;
  onDeadLettered?(count: number): void;
  /** A problem to report on `/api/ready` (undefined: healthy again). */
  onProblem?(detail: string | undefined): void;
}

/**
 * The recorder's bus handler (upstream `consumer(write_batch_size, flush_every, max_persist_retries)`): keeps
 * client task-run events (the others are acked at once), dead-letters at once an event that cannot be mapped
 * to a task run, and hands the rest to the shared `BatchingConsumer` (batches, merged flushes, bisection,
 * attempts, dead letters, outage pause; see src/background/batching/batching-consumer.ts).
 */
export class TaskRunRecorderConsumer {
  private readonly batching: BatchingConsumer<MappedEvent>;
  private closed = false;

  constructor(
    options: RecorderConsumerOptions,
    private readonly hooks: RecorderConsumerHooks,
  ) {
    this.batching = new BatchingConsumer<MappedEvent>(
      {
        name: 'TaskRunRecorder',
        batchSize: options.batchSize,
        flushIntervalMs: options.flushIntervalMs,
        maxAttempts: options.maxPersistRetries,
        concurrentFlushes: options.concurrentFlushes,
        maxWrite: options.maxWrite,
        flushWhenIdle: options.flushWhenIdle,
      },
      {
        write: async (items) => {
          await hooks.write(
            items.map((i) => i.event),
            items.map((i) => i.record),
          );
        },
        deadLetter: (items, reason) =>
          hooks.deadLetter(
            items.map((i) => ({ event: i.item.event, attempts: i.attempts })),
            reason,
          ),
        isPermanent: (err) => err instanceof InvalidTaskRunEventError,
        onFlushed: ({ ok, items, seconds }) => {
          if (!ok) {
            return hooks.onFlushed?.({ ok, events: items.length, seconds });
          }
          const now = hooks.clock.nowMicros();
          let oldest = Infinity;
          for (const { event } of items) {
            oldest = Math.min(oldest, toMicros(event.received));
          }
          hooks.onFlushed?.({ ok, events: items.length, seconds, lagSeconds: (now - oldest) / 1e6 });
        },
        onDeadLettered: (count) => hooks.onDeadLettered?.(count),
        onProblem: (detail) => hooks.onProblem?.(detail),
      },
    );
  }

  get depth(): number {
    return this.batching.depth;
  }

  /** The bus handler. */
  readonly handle = async (event: ReceivedEvent): Promise<void> => {
    if (!isRecordableTaskRunEvent(event)) {
      return;
    }
    if (this.closed) {
      throw new Error('the task run recorder is stopping');
    }
    let record: RecordableTaskRun;
    try {
      record = dbRecordableTaskRunFromEvent(event);
    } catch (err) {
      if (!(err instanceof InvalidTaskRunEventError)) {
        throw err;
      }
      await this.hooks.deadLetter([{ event, attempts: 1 }], err.message);
      this.hooks.onDeadLettered?.(1);
      return;
    }
    return this.batching.handle({ event, record });
  };

  start(): void {
    this.closed = false;
    this.batching.start();
  }

  /** Flushes everything queued now (a call while one runs joins it). Never rejects. */
  flush(): Promise<void> {
    return this.batching.flush();
  }

  /** Stops intake and drains: every queued event ends recorded, dead-lettered, or rejected back to the bus. */
  async close(): Promise<void> {
    this.closed = true;
    await this.batching.close();
  }
}
