import { Injectable } from '@nestjs/common';
import { DomainError, InvalidRequestError } from '../common/errors/domain.error';
import { RequestValidationError, ValidationIssue } from '../common/errors/request-validation.error';
import { Clock } from '../common/time/clock';
import { fromMicros, toMicros } from '../common/time/timestamp';
import { toWire } from './event.schema';
import { ReceivedEvent } from './event.types';
import { EVENT_COLUMNS, EventsRepository, rowToEvent } from './events.repository';
import { EventFilter, FilterParseError } from './filters/event-filter.types';
import { parseEventFilter } from './filters/parse';
import { filterToWire } from './filters/serialize';
import { FilterSql } from './filters/sql';

export const MAX_PAGE_SIZE = 50;
export const MAX_BUCKETS = 1000;
/** Buckets of `count-by/time` are counted from this instant (docs/reference.md §2). */
export const PIVOT_MICROS = Date.UTC(2024, 3, 1) * 1000;

export type Countable = 'day' | 'time' | 'event' | 'resource';
export const COUNTABLES: readonly Countable[] = ['day', 'time', 'event', 'resource'];
export type TimeUnit = 'week' | 'day' | 'hour' | 'minute' | 'second';
const UNIT_SECONDS: Record<TimeUnit, number> = {
  week: 604_800,
  day: 86_400,
  hour: 3600,
  minute: 60,
  second: 1,
};

export interface EventPage {
  events: Record<string, unknown>[];
  total: number;
  next_page: string | null;
}

export interface EventCount {
  value: string;
  label: string;
  count: number;
  start_time: string;
  end_time: string;
}

interface PageToken {
  filter: unknown;
  count: number;
  page_size: number;
  offset: number;
}

export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** Standard padded base64, as upstream builds page tokens (docs/reference.md §6). */
function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** A bucket start as Python's `isoformat()` writes it: `+00:00`, microseconds only when not zero. */
export function pythonIso(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19);
  const fraction = ((micros % 1_000_000) + 1_000_000) % 1_000_000;
  return `${iso}${fraction ? `.${String(fraction).padStart(6, '0')}` : ''}+00:00`;
}

function validation(issues: ValidationIssue[]): RequestValidationError {
  return new RequestValidationError(issues);
}

/** Reads events: `/events/filter` with page tokens, `/events/count-by/{countable}`, and `/events/out` backfill. */
@Injectable()
export class EventsQueryService {
  constructor(
    private readonly repository: EventsRepository,
    private readonly clock: Clock,
  ) {}

  /** Parses a filter from a request body (422 on a bad one). */
  parseFilter(raw: unknown, loc: (string | number)[] = ['body', 'filter']): EventFilter {
    try {
      return parseEventFilter(raw, this.clock.nowMicros(), loc);
    } catch (err) {
      if (err instanceof FilterParseError) {
        throw validation(err.issues);
      }
      throw err;
    }
  }

  /** `POST /events/filter`: the first page, its total, and the URL of the next page. */
  async filter(body: unknown, baseUrl: string): Promise<EventPage> {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b !== 'object' || Array.isArray(b)) {
      throw validation([{ loc: ['body'], msg: 'Input should be a valid dictionary', type: 'dict_type' }]);
    }
    const limit = this.parseLimit(b.limit);
    const filter = this.parseFilter(b.filter);
    const [events, total] = await Promise.all([this.find(filter, limit, 0), this.count(filter)]);
    return { events: events.map(toWire), total, next_page: this.nextPage(baseUrl, filter, total, limit, 0) };
  }

  /** `GET /events/filter/next?page-token=`: 403 on a token that does not decode. */
  async followPage(token: string | undefined, baseUrl: string): Promise<EventPage> {
    const decoded = this.decodeToken(token);
    const filter = decoded.filter;
    const events = await this.find(filter, decoded.page_size, decoded.offset);
    return {
      events: events.map(toWire),
      total: decoded.count,
      next_page: this.nextPage(baseUrl, filter, decoded.count, decoded.page_size, decoded.offset),
    };
  }

  async find(filter: EventFilter, limit: number, offset: number): Promise<ReceivedEvent[]> {
    if (limit <= 0) {
      return [];
    }
    const sql = new FilterSql();
    const where = sql.where(filter);
    const dir = filter.order;
    let query: string;
    if (filter.resource?.distinct) {
      query = `SELECT * FROM (SELECT DISTINCT ON (e.resource_id) ${EVENT_COLUMNS} FROM events e WHERE ${where}
               ORDER BY e.resource_id, e.occurred ${dir}, e.id ${dir}) d
               ORDER BY d.occurred ${dir}, d.id ${dir} LIMIT ${sql.params.add(limit)} OFFSET ${sql.params.add(offset)}`;
    } else {
      query = `SELECT ${EVENT_COLUMNS} FROM events e WHERE ${where} ORDER BY e.occurred ${dir}, e.id ${dir}
               LIMIT ${sql.params.add(limit)} OFFSET ${sql.params.add(offset)}`;
    }
    const rows = await this.repository.query(query, sql.params.values);
    return rows.map(rowToEvent);
  }

  async count(filter: EventFilter): Promise<number> {
    const sql = new FilterSql();
    const where = sql.where(filter);
    const what = filter.resource?.distinct ? 'count(DISTINCT e.resource_id)' : 'count(*)';
    const [row] = await this.repository.query<{ n: number }>(
      `SELECT ${what} AS n FROM events e WHERE ${where}`,
      sql.params.values,
    );
    return Number(row.n);
  }

  /** `POST /events/count-by/{countable}` (docs/reference.md §2). */
  async countBy(countable: string, body: unknown): Promise<EventCount[]> {
    if (!COUNTABLES.includes(countable as Countable)) {
      throw validation([
        {
          loc: ['path', 'countable'],
          msg: "Input should be 'day', 'time', 'event' or 'resource'",
          type: 'enum',
          input: countable,
        },
      ]);
    }
    const b = (body ?? {}) as Record<string, unknown>;
    const issues: ValidationIssue[] = [];
    if (b.filter === undefined) {
      issues.push({ loc: ['body', 'filter'], msg: 'Field required', type: 'missing' });
    }
    let unit: TimeUnit = 'day';
    if (b.time_unit !== undefined) {
      if (typeof b.time_unit === 'string' && b.time_unit in UNIT_SECONDS) {
        unit = b.time_unit as TimeUnit;
      } else {
        issues.push({
          loc: ['body', 'time_unit'],
          msg: "Input should be 'week', 'day', 'hour', 'minute' or 'second'",
          type: 'enum',
          input: b.time_unit,
        });
      }
    }
    let interval = 1.0;
    if (b.time_interval !== undefined) {
      if (typeof b.time_interval !== 'number' || !Number.isFinite(b.time_interval)) {
        issues.push({
          loc: ['body', 'time_interval'],
          msg: 'Input should be a valid number',
          type: 'float_type',
          input: b.time_interval,
        });
      } else if (b.time_interval < 0.01) {
        issues.push({
          loc: ['body', 'time_interval'],
          msg: 'Input should be greater than or equal to 0.01',
          type: 'greater_than_equal',
          input: b.time_interval,
        });
      } else {
        interval = b.time_interval;
      }
    }
    if (issues.length) {
      throw validation(issues);
    }
    const filter = this.parseFilter(b.filter);
    const sql = new FilterSql();
    const where = sql.where(filter);

    if (countable === 'event' || countable === 'resource') {
      const value = countable === 'event' ? 'e.event' : 'e.resource_id';
      const label =
        countable === 'event'
          ? 'e.event'
          : `COALESCE(e.resource->>'prefect.resource.name', e.resource->>'prefect.name', e.resource_id)`;
      const rows = await this.repository.query<{
        value: string;
        label: string;
        count: number;
        start_time: string;
        end_time: string;
      }>(
        `SELECT value, (array_agg(label ORDER BY latest DESC))[1] AS label, sum(n)::int AS count,
                min(oldest) AS start_time, max(latest) AS end_time
         FROM (SELECT ${value} AS value, ${label} AS label, count(*) AS n, min(e.occurred) AS oldest, max(e.occurred) AS latest
               FROM events e WHERE ${where} GROUP BY 1, 2) c
         GROUP BY value ORDER BY count DESC, label ASC`,
        sql.params.values,
      );
      return rows.map((r) => ({
        value: r.value,
        label: r.label,
        count: Number(r.count),
        start_time: r.start_time,
        end_time: r.end_time,
      }));
    }

    if (countable === 'day') {
      unit = 'day';
      interval = 1;
    }
    const delta = Math.round(interval * UNIT_SECONDS[unit] * 1e6);
    const since = toMicros(filter.occurred.since);
    let until = toMicros(filter.occurred.until);
    const buckets = Math.ceil((until - since) / delta);
    if (buckets > MAX_BUCKETS) {
      throw new InvalidRequestError(
        `The given interval would create ${buckets} buckets, which is too many. Please increase the interval or reduce the time range to produce ${MAX_BUCKETS} buckets or fewer.`,
      );
    }
    const now = this.clock.nowMicros();
    if (until > now) {
      until = now;
    }
    const counts = await this.repository.query<{ bucket: string; n: number }>(
      `SELECT floor((((extract(epoch FROM e.occurred) * 1000000)::bigint - ${sql.params.add(PIVOT_MICROS)}::bigint)::numeric / ${sql.params.add(delta)}::numeric))::bigint::text AS bucket,
              count(*)::int AS n
       FROM events e WHERE ${where} GROUP BY 1`,
      sql.params.values,
    );
    const byBucket = new Map(counts.map((c) => [c.bucket, Number(c.n)]));
    const first = Math.floor((since - PIVOT_MICROS) / delta);
    const out: EventCount[] = [];
    // Buckets sit on a grid from the pivot; `value` is the position in the answer. A bucket starts before
    // `until` (so an `until` on a boundary opens none) and never after now.
    for (
      let i = first, start = PIVOT_MICROS + first * delta;
      start < until && out.length < MAX_BUCKETS;
      i++, start += delta
    ) {
      out.push({
        value: String(out.length),
        label: pythonIso(start),
        count: byBucket.get(String(i)) ?? 0,
        start_time: fromMicros(start),
        end_time: fromMicros(start + delta - 1),
      });
    }
    return out;
  }

  private parseLimit(raw: unknown): number {
    if (raw === undefined || raw === null) {
      return MAX_PAGE_SIZE;
    }
    if (typeof raw !== 'number' || !Number.isInteger(raw)) {
      throw validation([
        { loc: ['body', 'limit'], msg: 'Input should be a valid integer', type: 'int_type', input: raw },
      ]);
    }
    if (raw < 0) {
      throw validation([
        {
          loc: ['body', 'limit'],
          msg: 'Input should be greater than or equal to 0',
          type: 'greater_than_equal',
          input: raw,
        },
      ]);
    }
    if (raw > MAX_PAGE_SIZE) {
      throw validation([
        {
          loc: ['body', 'limit'],
          msg: `Input should be less than or equal to ${MAX_PAGE_SIZE}`,
          type: 'less_than_equal',
          input: raw,
        },
      ]);
    }
    return raw;
  }

  private nextPage(
    baseUrl: string,
    filter: EventFilter,
    count: number,
    pageSize: number,
    offset: number,
  ): string | null {
    if (pageSize <= 0 || offset + pageSize >= count) {
      return null;
    }
    const token: PageToken = {
      filter: filterToWire(filter),
      count,
      page_size: pageSize,
      offset: offset + pageSize,
    };
    return `${baseUrl}api/events/filter/next?page-token=${b64(b64(JSON.stringify(token)))}`;
  }

  private decodeToken(token: string | undefined): {
    filter: EventFilter;
    count: number;
    page_size: number;
    offset: number;
  } {
    const invalid = () => new ForbiddenError('Invalid page token');
    if (!token) {
      throw invalid();
    }
    try {
      // A `+` of the token may arrive as a space when the client did not percent-encode the query.
      const inner = Buffer.from(token.replace(/ /g, '+'), 'base64').toString('utf8');
      if (!inner) {
        throw invalid();
      }
      const parsed = JSON.parse(Buffer.from(inner, 'base64').toString('utf8')) as PageToken;
      const { count, page_size, offset } = parsed;
      if (
        ![count, page_size, offset].every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0) ||
        page_size > MAX_PAGE_SIZE
      ) {
        throw invalid();
      }
      return {
        filter: parseEventFilter(parsed.filter, this.clock.nowMicros(), ['token', 'filter']),
        count,
        page_size,
        offset,
      };
    } catch {
      throw invalid();
    }
  }
}
