import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import {
  InvalidRequestError,
  ServiceUnavailableError,
  TooManyRequestsError,
} from '../common/errors/domain.error';
import { RequestValidationError, ValidationIssue } from '../common/errors/request-validation.error';
import { MetricsService } from '../common/metrics/metrics.service';
import { Clock } from '../common/time/clock';
import { AppConfig } from '../config/app-config';
import { EventBus } from './bus/event-bus';
import { EventLimits, parseEvent } from './event.schema';
import { PrefectEvent, ReceivedEvent } from './event.types';
import { RedisEventBus } from './bus/redis-event-bus';
import { EVENT_PERSISTER_GROUP, EventPersister } from './services/event-persister.service';

/**
 * Ingestion (`POST /events`, `WS /events/in`): validates client events against docs/reference.md §6, stamps `received`,
 * and publishes them on the bus. Invalid or oversized events are refused, never dropped silently
 * (docs/reference.md, beyond upstream 3); while the local persister's buffer is full it refuses with 429 + Retry-After.
 */
@Injectable()
export class EventsIngestService {
  private readonly accepted: Counter;
  private readonly refused: Counter<'reason'>;
  private remoteLag?: number;
  private lagCheckedAt = 0;
  private lagChecking = false;

  constructor(
    private readonly bus: EventBus,
    private readonly persister: EventPersister,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    this.accepted = metrics.counter('prefect_events_ingested_total', 'Events accepted by ingestion');
    this.refused = metrics.counter('prefect_events_refused_total', 'Events refused by ingestion, by reason', [
      'reason',
    ]);
  }

  get limits(): EventLimits {
    return this.config.events;
  }

  /** Validates a request body (an array of events); throws a 422 naming every problem. */
  parseBatch(body: unknown): PrefectEvent[] {
    if (!Array.isArray(body)) {
      this.refused.inc({ reason: 'invalid' });
      throw new RequestValidationError([
        { loc: ['body'], msg: 'Input should be a valid list', type: 'list_type' },
      ]);
    }
    const events: PrefectEvent[] = [];
    const issues: ValidationIssue[] = [];
    body.forEach((raw, i) => {
      const parsed = parseEvent(raw, this.limits, ['body', i]);
      if (parsed.issues) issues.push(...parsed.issues);
      else events.push(parsed.event);
    });
    if (issues.length) {
      const tooLarge = issues.find((issue) => issue.type === 'too_large');
      this.refused.inc({ reason: tooLarge ? 'too_large' : 'invalid' }, body.length);
      if (tooLarge)
        throw new InvalidRequestError(`Event at index ${tooLarge.loc[1]} refused: ${tooLarge.msg}`);
      throw new RequestValidationError(issues);
    }
    return events;
  }

  /** False while the persister's buffer is full. */
  hasRoom(): boolean {
    return !this.persister.isFull() || this.persister.shutDown;
  }

  /**
   * Throws TooManyRequestsError while the persister cannot take more, and ServiceUnavailableError once its
   * shutdown began with the in-memory bus (what is published then could no longer be stored).
   */
  assertCapacity(): void {
    if (this.persister.shutDown && this.config.events.messagingBroker === 'memory') {
      this.refused.inc({ reason: 'shutting_down' });
      throw new ServiceUnavailableError('Shutting down: events are not accepted any more');
    }
    this.refreshRemoteLag();
    if (this.remoteLag !== undefined && this.remoteLag > this.config.eventPersister.queueMaxSize) {
      this.refused.inc({ reason: 'backpressure' });
      throw new TooManyRequestsError(
        `Event queue full: the event persisters are ${this.remoteLag} events behind (more than ${this.config.eventPersister.queueMaxSize}); retry later.`,
        1,
      );
    }
    if (this.persister.isFull()) {
      this.refused.inc({ reason: 'backpressure' });
      throw new TooManyRequestsError(
        `Event queue full (${this.persister.depth}/${this.config.eventPersister.queueMaxSize}); retry later.`,
        this.persister.retryAfterSeconds(),
      );
    }
  }

  /**
   * With Redis and no persister running in this process (an API-only replica), the persisters elsewhere are
   * watched through the stream: their group's lag, refreshed at most every 500 ms, stands in for the buffer.
   */
  private refreshRemoteLag(): void {
    if (!(this.bus instanceof RedisEventBus) || this.persister.status === 'running') {
      this.remoteLag = undefined;
      return;
    }
    const now = Date.now();
    if (this.lagChecking || now - this.lagCheckedAt < 500) return;
    this.lagChecking = true;
    void this.bus
      .lag(EVENT_PERSISTER_GROUP)
      .then((lag) => {
        this.remoteLag = lag;
        this.lagCheckedAt = Date.now();
      })
      .catch(() => undefined)
      .finally(() => (this.lagChecking = false));
  }

  /** Stamps `received` and publishes. */
  async publish(events: PrefectEvent[]): Promise<ReceivedEvent[]> {
    this.assertCapacity();
    const received = this.clock.now();
    const stamped = events.map((e) => ({ ...e, received }));
    if (stamped.length) await this.bus.publish(stamped);
    this.accepted.inc(stamped.length);
    return stamped;
  }

  async ingest(body: unknown): Promise<void> {
    await this.publish(this.parseBatch(body));
  }
}
