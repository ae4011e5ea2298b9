import { Injectable, Logger } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { deferred, Deferred, sleep } from '../../common/async/deferred';
import { isRetryableDbError } from '../../common/errors/db-errors';
import { MetricsService } from '../../common/metrics/metrics.service';
import { Clock } from '../../common/time/clock';
import { toMicros } from '../../common/time/timestamp';
import { AppConfig } from '../../config/app-config';
import { BackgroundService, ManagedService } from '../../services/managed-service';
import { DeadLettersService } from '../../services/dead-letters/dead-letters.service';
import { EventBus, Subscription } from '../bus/event-bus';
import { parseReceivedEvent } from '../event.schema';
import { ReceivedEvent } from '../event.types';
import { EventsRepository } from '../events.repository';

export const EVENT_PERSISTER_GROUP = 'event-persister';
export const EVENT_PERSISTER_DEAD_LETTER_SOURCE = 'event-persister';
/** Events per write statement at most. */
export const FLUSH_CHUNK = 2000;

interface Pending {
  event: ReceivedEvent;
  attempts: number;
  done: Deferred<void>;
}

interface Failure {
  items: Pending[];
  error: unknown;
}

/**
 * Moves events from the bus (group `event-persister`) into `events` + `event_resources` (docs/reference.md §5.4).
 *
 * Each delivered event waits in a buffer of at most `QUEUE_MAX_SIZE` (the bus never hands out more: that is
 * the subscription's `maxInFlight`), and its handler promise resolves only once the batch holding it is
 * committed, so the bus acks nothing that is not stored (with Redis, a crash loses nothing accepted). The
 * buffer is flushed when it holds `BATCH_SIZE` events and every `FLUSH_INTERVAL`, one statement per chunk
 * (see EventsRepository). A failed batch is split in halves when the error is not a database outage, so
 * that one poisonous event cannot sink its neighbours; what still fails is retried on the next flushes, and
 * after `MAX_FLUSH_RETRIES` failed attempts goes to the dead-letter table (source `event-persister`,
 * replayable through `POST /api/admin/dead_letters/{id}/replay`). While the buffer is full, ingestion answers
 * 429 (`isFull`). Stopping flushes everything still buffered, before the database closes.
 */
@BackgroundService({
  name: 'EventPersister',
  settingsPrefix: 'PREFECT_SERVER_SERVICES_EVENT_PERSISTER',
  description: 'Stores events from the event bus in the events tables, in batches.',
})
@Injectable()
export class EventPersister extends ManagedService {
  protected readonly logger = new Logger(EventPersister.name);
  private buffer: Pending[] = [];
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private flushRequested = false;
  /** After a failed flush, size triggers wait for the next timed flush (no hammering a sick database). */
  private backoff = false;
  private warnedCapacity = false;
  private everStarted = false;

  private readonly batchSizes: Histogram;
  private readonly flushSeconds: Histogram;
  private readonly lagSeconds: Histogram;
  private readonly outcomes: Counter<'outcome'>;
  private readonly flushFailures: Counter;

  constructor(
    private readonly bus: EventBus,
    private readonly repository: EventsRepository,
    private readonly deadLetters: DeadLettersService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    metrics: MetricsService,
  ) {
    super();
    this.batchSizes = metrics.histogram(
      'prefect_event_persister_batch_size',
      'Events written per statement',
      [],
      [1, 10, 20, 50, 100, 500, 1000, 5000, 20000, 50000],
    );
    this.flushSeconds = metrics.histogram(
      'prefect_event_persister_flush_duration_seconds',
      'Duration of one write statement (a batch of at most 2000 events)',
      [],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.lagSeconds = metrics.histogram(
      'prefect_event_persister_lag_seconds',
      'From an event being received to its batch being committed',
      [],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.outcomes = metrics.counter(
      'prefect_event_persister_events_total',
      'Events handled by the persister, by outcome (stored, duplicate, dead_lettered)',
      ['outcome'],
    );
    this.flushFailures = metrics.counter(
      'prefect_event_persister_flush_failures_total',
      'Failed batch writes',
    );
    metrics.gauge('prefect_event_persister_queue_depth', 'Events buffered by the persister', [], (g) =>
      g.set(this.buffer.length),
    );
  }

  /** The last write failed because the database was unreachable. */
  private databaseDown = false;

  /** Events buffered, not yet committed. */
  get depth(): number {
    return this.buffer.length;
  }

  /** True once this process ran the persister and it is stopping or stopped (shutdown): intake must stop. */
  get shutDown(): boolean {
    return this.everStarted && this.status !== 'running' && this.status !== 'starting';
  }

  /** True while the buffer is full: ingestion refuses with 429 until a flush makes room. */
  isFull(): boolean {
    return this.status === 'running' && this.buffer.length >= this.config.eventPersister.queueMaxSize;
  }

  /** A reasonable Retry-After for a refused ingestion: the next timed flush. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.config.eventPersister.flushInterval));
  }

  protected async onStart(): Promise<void> {
    const { queueMaxSize, flushInterval } = this.config.eventPersister;
    this.everStarted = true;
    this.deadLetters.registerReplayHandler(EVENT_PERSISTER_DEAD_LETTER_SOURCE, (payload) =>
      this.replay(payload),
    );
    this.subscription = await this.bus.subscribe((event) => this.handle(event), {
      group: EVENT_PERSISTER_GROUP,
      maxInFlight: queueMaxSize,
    });
    this.timer = setInterval(() => {
      this.backoff = false;
      void this.flush().catch((err: unknown) =>
        this.logger.error({ msg: 'flush failed', error: String(err) }),
      );
    }, flushInterval * 1000);
    this.timer.unref?.();
  }

  protected async onStop(): Promise<void> {
    clearInterval(this.timer);
    let closed = false;
    const closing = (this.subscription?.close() ?? Promise.resolve()).finally(() => (closed = true));
    this.subscription = undefined;
    // The bus's close waits for the handlers in flight, and a handler waits for its batch: keep flushing until
    // the bus has handed over everything it had read, so neither waits on the other.
    while (!closed) {
      if (!(await this.flushAll())) this.abandonBuffered();
      await Promise.race([closing, sleep(20)]);
    }
    if (!(await this.flushAll())) this.abandonBuffered();
    this.logger.log({ msg: 'final flush done' });
  }

  /**
   * At shutdown with the database unreachable: hand the buffered events back to the bus (their handlers reject),
   * which leaves them unacknowledged for another consumer or the next start (Redis), instead of waiting forever.
   */
  private abandonBuffered(): void {
    const left = this.buffer.splice(0);
    if (!left.length) return;
    this.logger.error({
      msg: 'database unavailable at shutdown: events left to the bus for redelivery',
      events: left.length,
    });
    for (const p of left)
      p.done.reject(new Error('event persister stopped before the database took the event'));
  }

  /** The bus handler: buffers the event; resolves when its batch is committed (or dead-lettered). */
  handle(event: ReceivedEvent): Promise<void> {
    const pending: Pending = { event, attempts: 0, done: deferred<void>() };
    this.buffer.push(pending);
    this.checkCapacity();
    if (this.buffer.length >= this.config.eventPersister.batchSize && !this.backoff) {
      void this.flush().catch((err: unknown) =>
        this.logger.error({ msg: 'flush failed', error: String(err) }),
      );
    }
    return pending.done.promise;
  }

  /** Writes everything buffered now. Concurrent calls coalesce: flushes never overlap. */
  flush(): Promise<void> {
    if (this.flushing) {
      this.flushRequested = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.flushRequested = false;
          await this.flushOnce();
        } while (this.flushRequested && this.buffer.length > 0 && !this.backoff);
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  /**
   * Flushes until the buffer is empty; false when it gave up: three flushes in a row failed while the database
   * was unreachable (other failures count towards dead-lettering and end in the dead-letter table).
   */
  private async flushAll(): Promise<boolean> {
    let outages = 0;
    for (let guard = 0; (this.buffer.length > 0 || this.flushing) && guard < 1000; guard++) {
      this.backoff = false;
      await this.flush();
      outages = this.databaseDown ? outages + 1 : 0;
      if (outages >= 3) return false;
    }
    return this.buffer.length === 0;
  }

  /**
   * Writes what is buffered, in statements of at most FLUSH_CHUNK events, `CONCURRENT_FLUSHES` of them in
   * flight (default 1: on the 2-core bench machine a second one did not help, see bench/events.bench.ts),
   * until the buffer is empty or a write failed.
   */
  private async flushOnce(): Promise<void> {
    const workers = Math.max(1, this.config.eventPersister.concurrentFlushes);
    await Promise.all(Array.from({ length: workers }, () => this.flushWorker()));
    if (this.buffer.length < this.config.eventPersister.queueMaxSize * 0.5) this.warnedCapacity = false;
  }

  private async flushWorker(): Promise<void> {
    for (;;) {
      const batch = this.buffer.splice(0, FLUSH_CHUNK);
      if (!batch.length) return;
      const started = performance.now();
      this.batchSizes.observe(batch.length);
      const failures = await this.write(batch);
      this.flushSeconds.observe((performance.now() - started) / 1000);
      if (failures.length) {
        this.flushFailures.inc();
        this.backoff = true;
        await this.handleFailures(failures);
      }
      if (this.backoff) return;
    }
  }

  /** Writes a batch; on a non-outage error, bisects it to isolate the events that fail. */
  private async write(batch: Pending[]): Promise<Failure[]> {
    try {
      const recorded = this.clock.now();
      const result = await this.repository.insertMany(
        batch.map((p) => p.event),
        recorded,
      );
      this.outcomes.inc({ outcome: 'stored' }, result.events);
      const duplicates = batch.length - result.events;
      if (duplicates > 0) this.outcomes.inc({ outcome: 'duplicate' }, duplicates);
      const recordedMicros = toMicros(recorded);
      for (const p of batch) {
        this.lagSeconds.observe(Math.max(0, (recordedMicros - toMicros(p.event.received)) / 1e6));
        p.done.resolve();
      }
      this.databaseDown = false;
      this.reportProblem(undefined);
      return [];
    } catch (error) {
      if (batch.length > 1 && !isRetryableDbError(error)) {
        const half = Math.ceil(batch.length / 2);
        return [...(await this.write(batch.slice(0, half))), ...(await this.write(batch.slice(half)))];
      }
      return [{ items: batch, error }];
    }
  }

  private async handleFailures(failures: Failure[]): Promise<void> {
    const limit = Math.max(1, this.config.eventPersister.maxFlushRetries);
    const retry: Pending[] = [];
    let outage: string | undefined;
    for (const { items, error } of failures) {
      const reason = error instanceof Error ? error.message : String(error);
      const exhausted: Pending[] = [];
      // A database outage is nobody's fault in the batch: keep the events buffered (attempts unchanged) and
      // retry at the next flush, so nothing accepted is dead-lettered, or lost, because the database was down.
      const dbDown = isRetryableDbError(error);
      if (dbDown) outage = reason;
      for (const p of items) {
        if (!dbDown) p.attempts += 1;
        (p.attempts >= limit ? exhausted : retry).push(p);
      }
      this.logger.warn({
        msg: 'flush failed',
        events: items.length,
        retrying: items.length - exhausted.length,
        deadLettering: exhausted.length,
        error: reason,
      });
      if (exhausted.length) await this.deadLetter(exhausted, reason);
    }
    if (retry.length) this.buffer.unshift(...retry);
    this.databaseDown = outage !== undefined;
    this.reportProblem(
      outage ? `database unavailable, ${this.buffer.length} events buffered: ${outage}` : undefined,
    );
  }

  private async deadLetter(items: Pending[], reason: string): Promise<void> {
    try {
      await this.deadLetters.record(
        EVENT_PERSISTER_DEAD_LETTER_SOURCE,
        `Max flush retries (${this.config.eventPersister.maxFlushRetries}) reached: ${reason}`,
        items.map((p) => ({ payload: p.event, attempts: p.attempts })),
      );
      this.outcomes.inc({ outcome: 'dead_lettered' }, items.length);
      for (const p of items) p.done.resolve();
    } catch (err) {
      // Not even the dead-letter table takes them: leave them to the bus, which redelivers unacked events.
      this.logger.error({
        msg: 'dead-lettering failed; the bus will redeliver',
        events: items.length,
        error: String(err),
      });
      for (const p of items) p.done.reject(err);
    }
  }

  /** Dead-letter replay: the payload is a ReceivedEvent; resolves once it is stored. */
  private async replay(payload: unknown): Promise<void> {
    const parsed = parseReceivedEvent(payload, {
      ...this.config.events,
      maximumSizeBytes: Number.MAX_SAFE_INTEGER,
    });
    if ('issues' in parsed) throw new Error(`not an event: ${parsed.issues.map((i) => i.msg).join('; ')}`);
    const stored = this.handle(parsed.event);
    this.backoff = false;
    await this.flush();
    await stored;
  }

  private checkCapacity(): void {
    const max = this.config.eventPersister.queueMaxSize;
    if (!this.warnedCapacity && this.buffer.length > max * 0.8) {
      this.warnedCapacity = true;
      this.logger.warn({ msg: `Event persister queue above 80% capacity (${this.buffer.length}/${max})` });
    }
  }
}
