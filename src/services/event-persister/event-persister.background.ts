import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { BatchingConsumer } from '../../background/batching/batching-consumer';
import { watchCatchUp } from '../../background/batching/catch-up';
import { DeadLettersService } from '../../background/dead-letters/dead-letters.service';
import { BackgroundService, ManagedService } from '../../background/managed-service';
import { sleep } from '../../common/async/deferred';
import { MetricsService } from '../../common/metrics/metrics.service';
import { Clock } from '../../common/time/clock';
import { toMicros } from '../../common/time/timestamp';
import { AppConfig } from '../../config/app-config';
import { EventBus, Subscription } from '../../events/bus/event-bus';
import { parseReceivedEvent } from '../../events/event.schema';
import { ReceivedEvent } from '../../events/event.types';
import { EventsRepository } from '../../events/events.repository';

export const EVENT_PERSISTER_GROUP = 'event-persister';
export const EVENT_PERSISTER_DEAD_LETTER_SOURCE = 'event-persister';
/** Events per write statement at most. */
export const FLUSH_CHUNK = 2000;

/**
 * Moves events from the bus (group `event-persister`) into `events` + `event_resources` (docs/reference.md §5.4).
 *
 * Each delivered event waits in a buffer of at most `QUEUE_MAX_SIZE` (the bus never hands out more: that is
 * the subscription's `maxInFlight`), and its handler promise resolves only once the batch holding it is
 * committed, so the bus acks nothing that is not stored. The batching (flush at `BATCH_SIZE` and every
 * `FLUSH_INTERVAL`, statements of at most FLUSH_CHUNK events, bisection of a failing batch, attempts, the
 * dead-letter table after `MAX_FLUSH_RETRIES` (source `event-persister`, replayable), the pause during a
 * database outage) is the shared `BatchingConsumer`. Stopping flushes everything still buffered, before the
 * database closes.
 */
@BackgroundService({
  name: 'EventPersister',
  settingsPrefix: 'PREFECT_SERVER_SERVICES_EVENT_PERSISTER',
  description: 'Stores events from the event bus in the events tables, in batches.',
})
@Injectable()
export class EventPersister extends ManagedService {
  protected readonly logger = new Logger(EventPersister.name);
  private readonly consumer: BatchingConsumer<ReceivedEvent>;
  private subscription?: Subscription;
  private warnedCapacity = false;
  private everStarted = false;

  constructor(
    private readonly bus: EventBus,
    private readonly repository: EventsRepository,
    private readonly deadLetters: DeadLettersService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    metrics: MetricsService,
  ) {
    super();
    const batchSizes = metrics.histogram(
      'prefect_event_persister_batch_size',
      'Events written per statement',
      [],
      [1, 10, 20, 50, 100, 500, 1000, 5000, 20000, 50000],
    );
    const flushSeconds = metrics.histogram(
      'prefect_event_persister_flush_duration_seconds',
      'Duration of one write statement (a batch of at most 2000 events)',
      [],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    const lagSeconds = metrics.histogram(
      'prefect_event_persister_lag_seconds',
      'From an event being received to its batch being committed',
      [],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    const outcomes: Counter<'outcome'> = metrics.counter(
      'prefect_event_persister_events_total',
      'Events handled by the persister, by outcome (stored, duplicate, dead_lettered)',
      ['outcome'],
    );
    const flushFailures: Counter = metrics.counter(
      'prefect_event_persister_flush_failures_total',
      'Failed batch writes',
    );
    metrics.gauge('prefect_event_persister_queue_depth', 'Events buffered by the persister', [], (g) =>
      g.set(this.depth),
    );
    const { batchSize, flushInterval, maxFlushRetries, concurrentFlushes } = config.eventPersister;
    this.consumer = new BatchingConsumer<ReceivedEvent>(
      {
        name: EventPersister.name,
        batchSize,
        maxWrite: FLUSH_CHUNK,
        flushIntervalMs: flushInterval * 1000,
        maxAttempts: Math.max(1, maxFlushRetries),
        concurrentFlushes: Math.max(1, concurrentFlushes),
      },
      {
        write: async (events) => {
          const recorded = this.clock.now();
          const result = await this.repository.insertMany(events, recorded);
          outcomes.inc({ outcome: 'stored' }, result.events);
          const duplicates = events.length - result.events;
          if (duplicates > 0) {
            outcomes.inc({ outcome: 'duplicate' }, duplicates);
          }
          const recordedMicros = toMicros(recorded);
          for (const e of events) {
            lagSeconds.observe(Math.max(0, (recordedMicros - toMicros(e.received)) / 1e6));
          }
        },
        deadLetter: async (items, reason) => {
          await this.deadLetters.record(
            EVENT_PERSISTER_DEAD_LETTER_SOURCE,
            `Max flush retries (${maxFlushRetries}) reached: ${reason}`,
            items.map((i) => ({ payload: i.item, attempts: i.attempts })),
          );
          outcomes.inc({ outcome: 'dead_lettered' }, items.length);
        },
        onFlushed: ({ ok, items, seconds }) => {
          batchSizes.observe(items.length);
          flushSeconds.observe(seconds);
          if (!ok) {
            flushFailures.inc();
          }
          if (this.consumer.depth < config.eventPersister.queueMaxSize * 0.5) {
            this.warnedCapacity = false;
          }
        },
        onProblem: (detail) => this.reportProblem(detail),
      },
    );
  }

  /** Events buffered, not yet committed. */
  get depth(): number {
    return this.consumer.depth;
  }

  /** True once this process ran the persister and it is stopping or stopped (shutdown): intake must stop. */
  get shutDown(): boolean {
    return this.everStarted && this.status !== 'running' && this.status !== 'starting';
  }

  /** True while the buffer is full. */
  isFull(): boolean {
    return this.status === 'running' && this.depth >= this.config.eventPersister.queueMaxSize;
  }

  protected async onStart(): Promise<void> {
    this.everStarted = true;
    this.deadLetters.registerReplayHandler(EVENT_PERSISTER_DEAD_LETTER_SOURCE, (payload) =>
      this.replay(payload),
    );
    this.consumer.start();
    this.subscription = await this.bus.subscribe((event) => this.handle(event), {
      group: EVENT_PERSISTER_GROUP,
      maxInFlight: this.config.eventPersister.queueMaxSize,
    });
    void watchCatchUp(
      this.bus,
      EVENT_PERSISTER_GROUP,
      Math.max(1000, 2 * this.config.eventPersister.batchSize),
      (detail) => this.reportProblem(detail),
      () => this.status !== 'running' && this.status !== 'starting',
      this.logger,
    );
  }

  protected async onStop(): Promise<void> {
    let closed = false;
    const closing = (this.subscription?.close() ?? Promise.resolve()).finally(() => (closed = true));
    this.subscription = undefined;
    // The bus's close waits for the handlers in flight, and a handler waits for its batch: keep flushing until
    // the bus has handed over everything it had read, so neither waits on the other. With the database down,
    // drain() hands the buffered events back to the bus (their handlers reject) instead of waiting forever.
    while (!closed) {
      await this.consumer.drain();
      await Promise.race([closing, sleep(20)]);
    }
    await this.consumer.close();
    this.logger.log({ msg: 'final flush done' });
  }

  /** The bus handler: buffers the event; resolves when its batch is committed (or dead-lettered). */
  handle(event: ReceivedEvent): Promise<void> {
    const done = this.consumer.handle(event);
    this.checkCapacity();
    return done;
  }

  /** Writes everything buffered now. Concurrent calls coalesce: flushes never overlap. */
  flush(): Promise<void> {
    return this.consumer.flush();
  }

  /** Dead-letter replay: the payload is a ReceivedEvent; resolves once it is stored. */
  private async replay(payload: unknown): Promise<void> {
    const parsed = parseReceivedEvent(payload, {
      ...this.config.events,
      maximumSizeBytes: Number.MAX_SAFE_INTEGER,
    });
    if ('issues' in parsed) {
      throw new Error(`not an event: ${parsed.issues.map((i) => i.msg).join('; ')}`);
    }
    const stored = this.handle(parsed.event);
    await this.flush();
    await stored;
  }

  private checkCapacity(): void {
    const max = this.config.eventPersister.queueMaxSize;
    if (!this.warnedCapacity && this.depth > max * 0.8) {
      this.warnedCapacity = true;
      this.logger.warn({ msg: `Event persister queue above 80% capacity (${this.depth}/${max})` });
    }
  }
}
