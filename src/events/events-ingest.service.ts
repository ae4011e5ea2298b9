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
import { IngestBackpressure } from './ingest-backpressure';

/**
 * Ingestion (`POST /events`, `WS /events/in`): validates client events against docs/reference.md §6, stamps `received`,
 * and publishes them on the bus. Invalid or oversized events are refused, never dropped silently
 * (docs/reference.md 3). The publish resolves once the bus holds the events durably (PostgreSQL broker: committed),
 * so the 2xx follows. While the back-pressure port says saturated it refuses with 429 + Retry-After.
 */
@Injectable()
export class EventsIngestService {
  private readonly accepted: Counter;
  private readonly refused: Counter<'reason'>;

  constructor(
    private readonly bus: EventBus,
    private readonly backpressure: IngestBackpressure,
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
      if (parsed.issues) {
        issues.push(...parsed.issues);
      } else {
        events.push(parsed.event);
      }
    });
    if (issues.length) {
      const tooLarge = issues.find((issue) => issue.type === 'too_large');
      this.refused.inc({ reason: tooLarge ? 'too_large' : 'invalid' }, body.length);
      if (tooLarge) {
        throw new InvalidRequestError(`Event at index ${tooLarge.loc[1]} refused: ${tooLarge.msg}`);
      }
      throw new RequestValidationError(issues);
    }
    return events;
  }

  /** False while ingestion is saturated (the websocket stops reading instead of refusing). */
  hasRoom(): boolean {
    return this.backpressure.hasRoom();
  }

  /** Throws TooManyRequestsError (429 + Retry-After) while saturated, ServiceUnavailableError while closing. */
  assertCapacity(count = 1): void {
    try {
      this.backpressure.admit(count);
    } catch (err) {
      this.refused.inc(
        { reason: err instanceof TooManyRequestsError ? 'backpressure' : 'shutting_down' },
        count,
      );
      throw err;
    }
  }

  /** Stamps `received` and publishes. */
  async publish(events: PrefectEvent[]): Promise<ReceivedEvent[]> {
    this.assertCapacity(events.length);
    const received = this.clock.now();
    const stamped = events.map((e) => ({ ...e, received }));
    if (stamped.length) {
      await this.bus.publish(stamped);
    }
    this.accepted.inc(stamped.length);
    return stamped;
  }

  async ingest(body: unknown): Promise<void> {
    await this.publish(this.parseBatch(body));
  }
}
