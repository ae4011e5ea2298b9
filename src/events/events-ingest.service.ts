import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { InvalidRequestError, TooManyRequestsError } from '../common/errors/domain.error';
import { RequestValidationError, ValidationIssue } from '../common/errors/request-validation.error';
import { MetricsService } from '../common/metrics/metrics.service';
import { Clock } from '../common/time/clock';
import { AppConfig } from '../config/app-config';
import { EventBus } from './bus/event-bus';
import { EventLimits, parseEvent } from './event.schema';
import { PrefectEvent, ReceivedEvent } from './event.types';
import { EventPersister } from './services/event-persister.service';

/**
 * Ingestion (`POST /events`, `WS /events/in`): validates client events against spec §6, stamps `received`,
 * and publishes them on the bus. Invalid or oversized events are refused, never dropped silently
 * (CONTRACT.md 3); while the local persister's buffer is full it refuses with 429 + Retry-After.
 */
@Injectable()
export class EventsIngestService {
  private readonly accepted: Counter;
  private readonly refused: Counter<'reason'>;

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
    return !this.persister.isFull();
  }

  /** Throws TooManyRequestsError while the persister cannot take more. */
  assertCapacity(): void {
    if (this.persister.isFull()) {
      this.refused.inc({ reason: 'backpressure' });
      throw new TooManyRequestsError(
        `Event queue full (${this.persister.depth}/${this.config.eventPersister.queueMaxSize}); retry later.`,
        this.persister.retryAfterSeconds(),
      );
    }
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
