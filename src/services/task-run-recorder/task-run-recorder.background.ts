import { Injectable, Logger } from '@nestjs/common';
import { watchCatchUp } from '../../background/batching/catch-up';
import { DeadLettersService } from '../../background/dead-letters/dead-letters.service';
import { BackgroundService, ManagedService } from '../../background/managed-service';
import { InvalidRequestError } from '../../common/errors/domain.error';
import { MetricsService } from '../../common/metrics/metrics.service';
import { Clock } from '../../common/time/clock';
import { AppConfig } from '../../config/app-config';
import { EventBus, Subscription } from '../../events/bus/event-bus';
import { ReceivedEvent } from '../../events/event.types';
import { TaskRunBulkWriter } from '../../task-runs/bulk/task-run-bulk.writer';
import { InvalidTaskRunEventError } from '../../task-runs/bulk/task-run-event.mapper';
import { TaskRunRecorderConsumer } from './task-run-recorder.consumer';

export const TASK_RUN_RECORDER_GROUP = 'task-run-recorder';
export const TASK_RUN_RECORDER_DEAD_LETTER_SOURCE = 'task-run-recorder';
/**
 * A write takes up to this many batches' worth of queued events: under a backlog, bigger writes coalesce more of
 * a run's events into one row version (docs/task-run-recorder.md, "Flush triggers").
 */
export const TASK_RUN_RECORDER_WRITE_BATCHES = 4;

/**
 * Constructs task runs and states from client-emitted events (upstream `TaskRunRecorder`, docs/reference.md §5.3).
 *
 * Subscribes to the event bus with group `task-run-recorder`; the consumer batches the client task-run events
 * and `TaskRunBulkWriter` records them. A handler settles once its event's batch is committed (the bus acks
 * only then). What cannot be recorded after `…_MAX_PERSIST_RETRIES` failed flushes goes to the dead-letter
 * table (source `task-run-recorder`) with the error; replaying a letter records its event again at once.
 *
 * An event naming a flow run that does not exist violates `task_run.flow_run_id`'s foreign key: it is retried
 * like any failure (the flow run may be committed by another replica a moment later) and then dead-lettered
 * with the foreign-key error, so it can be replayed once the flow run exists. It is never recorded detached
 * (that would change its natural key) and never dropped.
 */
@BackgroundService({
  name: 'TaskRunRecorder',
  settingsPrefix: 'PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER',
  description: 'Constructs task runs and states from client-emitted events.',
})
@Injectable()
export class TaskRunRecorder extends ManagedService {
  protected readonly logger = new Logger(TaskRunRecorder.name);
  private consumer?: TaskRunRecorderConsumer;
  private subscription?: Subscription;

  constructor(
    private readonly bus: EventBus,
    private readonly writer: TaskRunBulkWriter,
    private readonly deadLetters: DeadLettersService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
  ) {
    super();
  }

  /** Events waiting for a flush (0 when stopped). */
  get queueDepth(): number {
    return this.consumer?.depth ?? 0;
  }

  /** Flushes what is queued now (tests and operators; the service also does it every flush interval). */
  async flush(): Promise<void> {
    await this.consumer?.flush();
  }

  protected async onStart(): Promise<void> {
    const { batchSize, flushInterval, maxPersistRetries, concurrentFlushes } = this.config.taskRunRecorder;
    const maxWrite = TASK_RUN_RECORDER_WRITE_BATCHES * batchSize;
    const consumer = new TaskRunRecorderConsumer(
      {
        batchSize,
        flushIntervalMs: flushInterval * 1000,
        maxPersistRetries,
        concurrentFlushes,
        maxWrite,
        // An event waits for one write, not for the flush interval (docs/task-run-recorder.md, "Flush triggers").
        flushWhenIdle: true,
      },
      this.hooks(),
    );
    this.consumer = consumer;
    this.deadLetters.registerReplayHandler(TASK_RUN_RECORDER_DEAD_LETTER_SOURCE, (payload) =>
      this.replay(payload),
    );
    consumer.start();
    // Let the bus hand out one write more than are written at once: it fills while the others are written.
    this.subscription = await this.bus.subscribe(consumer.handle, {
      group: TASK_RUN_RECORDER_GROUP,
      maxInFlight: Math.max((concurrentFlushes + 1) * maxWrite, 100),
    });
    void watchCatchUp(
      this.bus,
      TASK_RUN_RECORDER_GROUP,
      Math.max(1000, 2 * batchSize),
      (detail) => this.reportProblem(detail),
      () => this.status !== 'running' && this.status !== 'starting',
      this.logger,
    );
  }

  protected async onStop(): Promise<void> {
    const closing = this.subscription?.close() ?? Promise.resolve();
    this.subscription = undefined;
    await this.consumer?.close();
    await closing;
    this.consumer = undefined;
  }

  private async replay(payload: unknown): Promise<void> {
    try {
      await this.writer.recordBulkTaskRunEvents([payload as ReceivedEvent]);
    } catch (err) {
      if (err instanceof InvalidTaskRunEventError) {
        throw new InvalidRequestError(err.message);
      }
      throw err;
    }
  }

  private hooks(): ConstructorParameters<typeof TaskRunRecorderConsumer>[1] {
    const m = this.metrics;
    const recorded = m.counter('prefect_task_run_recorder_events_recorded_total', 'Task-run events recorded');
    const batches = m.counter(
      'prefect_task_run_recorder_batches_total',
      'Recorder flushes (write transactions)',
      ['outcome'],
    );
    const duration = m.histogram(
      'prefect_task_run_recorder_flush_duration_seconds',
      'Time to record one batch',
      [],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    const deadLettered = m.counter(
      'prefect_task_run_recorder_dead_lettered_total',
      'Task-run events the recorder gave up on (stored as dead letters)',
    );
    const lag = m.gauge(
      'prefect_task_run_recorder_lag_seconds',
      'now − received of the oldest event of the last successful flush',
    );
    m.gauge('prefect_task_run_recorder_queue_depth', 'Task-run events waiting for a flush', [], (g) =>
      g.set(this.queueDepth),
    );
    m.counter(
      'prefect_task_run_recorder_race_retries_total',
      'Write attempts retried after a race with another recorder',
      [],
      (c) => {
        c.reset();
        c.inc(this.writer.raceRetries);
      },
    );
    return {
      write: (events, records) => this.writer.recordBulkTaskRunEvents(events, records),
      deadLetter: (items, reason) =>
        this.deadLetters.record(
          TASK_RUN_RECORDER_DEAD_LETTER_SOURCE,
          reason,
          items.map((i) => ({ payload: i.event, attempts: i.attempts })),
        ),
      clock: this.clock,
      onFlushed: ({ ok, events, seconds, lagSeconds }) => {
        batches.inc({ outcome: ok ? 'success' : 'failure' });
        duration.observe(seconds);
        if (ok) {
          recorded.inc(events);
          if (lagSeconds !== undefined) {
            lag.set(lagSeconds);
          }
        }
      },
      onDeadLettered: (count) => deadLettered.inc(count),
      onProblem: (detail) => this.reportProblem(detail),
    };
  }
}
