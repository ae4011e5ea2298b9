import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { InvalidRequestError, TooManyRequestsError } from '../common/errors/domain.error';
import { RequestValidationError, ValidationIssue } from '../common/errors/request-validation.error';
import type { RawJsonArray } from '../common/http/json-depth.middleware';
import { MetricsService } from '../common/metrics/metrics.service';
import { Clock } from '../common/time/clock';
import { AppConfig } from '../config/app-config';
import { EventBus } from './bus/event-bus';
import { AsSent, encodeRequestEvents } from './encoded-events';
import { EventLimits, isAsSent, parseEvent } from './event.schema';
import { PrefectEvent, ReceivedEvent } from './event.types';
import { IngestBackpressure } from './ingest-backpressure';
import { eventSpansFromScan, RawEventSpans, scanEventArray } from './raw-event-array';

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
    return this.validate(body).events;
  }

  /**
   * `parseBatch`, and with the request's raw bytes (`raw`, UTF-8 JSON) also which events the log can store as
   * sent (docs/events.md, "Storing the request's own bytes"): their sizes come from the bytes, not from
   * serialising each event.
   */
  private validate(
    body: unknown,
    raw?: Buffer,
    scanned?: RawJsonArray,
  ): { events: PrefectEvent[]; spans?: RawEventSpans; sources?: (AsSent | undefined)[] } {
    if (!Array.isArray(body)) {
      this.refused.inc({ reason: 'invalid' });
      throw new RequestValidationError([
        { loc: ['body'], msg: 'Input should be a valid list', type: 'list_type' },
      ]);
    }
    const limits = this.limits;
    const spans = raw
      ? ((scanned && eventSpansFromScan(raw, scanned, body.length)) ?? scanEventArray(raw, body.length))
      : undefined;
    const sources: (AsSent | undefined)[] | undefined = spans ? new Array(body.length) : undefined;
    const events: PrefectEvent[] = [];
    const issues: ValidationIssue[] = [];
    for (let i = 0; i < body.length; i++) {
      const item: unknown = body[i];
      // A text no longer than the limit, without exponents, serialises to no more bytes (raw-event-array.ts).
      const plain = spans !== undefined && spans.plain[i] === 1;
      const fits = plain && spans.ends[i] - spans.starts[i] <= limits.maximumSizeBytes;
      const parsed = parseEvent(item, limits, ['body', i], fits);
      if (parsed.issues) {
        issues.push(...parsed.issues);
        continue;
      }
      events.push(parsed.event);
      if (sources && plain && isAsSent(item as Record<string, unknown>, parsed.event)) {
        const r = item as Record<string, unknown>;
        sources[i] = {
          span: i,
          related: r.related === undefined,
          payload: r.payload === undefined,
          follows: r.follows === undefined,
        };
      }
    }
    if (issues.length) {
      const tooLarge = issues.find((issue) => issue.type === 'too_large');
      this.refused.inc({ reason: tooLarge ? 'too_large' : 'invalid' }, body.length);
      if (tooLarge) {
        throw new InvalidRequestError(`Event at index ${tooLarge.loc[1]} refused: ${tooLarge.msg}`);
      }
      throw new RequestValidationError(issues);
    }
    return { events, spans, sources };
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

  /**
   * `POST /events`: validates the body (a 422 is thrown here), checks capacity (429/503 thrown here), stamps
   * the events in place (no copy per event) and hands them to the bus; the promise waits only for the commit.
   * `raw` is the request's bytes when the body parser kept them (rawJsonBody), `scanned` what its scan found
   * when it parsed them as an array (rawJsonArray). Nothing of the parsed events is kept while the commit is
   * awaited (only their count here; the log keeps their bytes), so a large request's objects die young
   * (docs/events.md, "Durable ingest, third round").
   */
  accept(body: unknown, raw?: Buffer, scanned?: RawJsonArray): Promise<void> {
    const { events, spans, sources } = this.validate(body, raw, scanned);
    this.assertCapacity(events.length);
    const count = events.length;
    if (!count) {
      return Promise.resolve();
    }
    const received = this.clock.now();
    const stamped = events as ReceivedEvent[];
    for (const e of stamped) {
      e.received = received;
    }
    const encoded =
      raw && spans && sources ? encodeRequestEvents(raw, spans, stamped, sources, received) : undefined;
    return this.bus.publish(stamped, encoded).then(() => {
      this.accepted.inc(count);
    });
  }
}
