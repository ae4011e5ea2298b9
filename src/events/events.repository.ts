import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Timestamp } from '../common/time/timestamp';
import { ReceivedEvent } from './event.types';

export interface InsertResult {
  /** Events actually inserted (duplicates of stored ids are skipped, with their resources). */
  events: number;
  resources: number;
}

/** Events per statement at most: one JSON parameter per statement, so this only bounds statement memory. */
export const INSERT_CHUNK = 5000;

/**
 * One round trip per chunk: the batch travels as a single JSON parameter; PostgreSQL expands it
 * (`jsonb_to_recordset`), inserts the events `ON CONFLICT DO NOTHING`, and derives the `event_resources`
 * rows (primary + related, labels without id/role) only for the ids it actually inserted. Measured against
 * multi-row VALUES and UNNEST in bench/events.bench.ts.
 */
export const INSERT_EVENTS_SQL = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    id uuid, occurred timestamptz, event text, resource jsonb, related jsonb, payload jsonb,
    received timestamptz, follows uuid)
), ins AS (
  INSERT INTO events (id, occurred, event, resource_id, resource, related_resource_ids, related, payload,
                      received, recorded, follows)
  SELECT i.id, i.occurred, i.event, i.resource->>'prefect.resource.id', i.resource,
         COALESCE((SELECT jsonb_agg(r->'prefect.resource.id') FROM jsonb_array_elements(i.related) r), '[]'::jsonb),
         i.related, i.payload, i.received, $2::timestamptz, i.follows
  FROM input i
  ON CONFLICT (id) DO NOTHING
  RETURNING id
), res AS (
  INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id)
  SELECT i.occurred, i.resource->>'prefect.resource.id', '',
         i.resource - 'prefect.resource.id' - 'prefect.resource.role', i.id
  FROM input i JOIN ins ON ins.id = i.id
  UNION ALL
  SELECT i.occurred, r->>'prefect.resource.id', r->>'prefect.resource.role',
         r - 'prefect.resource.id' - 'prefect.resource.role', i.id
  FROM input i JOIN ins ON ins.id = i.id CROSS JOIN LATERAL jsonb_array_elements(i.related) r
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins) AS events, (SELECT count(*) FROM res) AS resources`;

/** Row of `events` as the queries read it. */
export const EVENT_COLUMNS =
  'e.id, e.occurred, e.event, e.resource, e.related, e.payload, e.received, e.follows';

export function rowToEvent(row: Record<string, unknown>): ReceivedEvent {
  return {
    id: row.id as string,
    occurred: row.occurred as Timestamp,
    event: row.event as string,
    resource: row.resource as Record<string, string>,
    related: row.related as Record<string, string>[],
    payload: row.payload as Record<string, unknown>,
    received: row.received as Timestamp,
    follows: (row.follows as string | null) ?? null,
  };
}

/** The `events` and `event_resources` tables. */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes a batch (deduplicated by id) in as few round trips as its size allows. */
  async insertMany(
    events: readonly ReceivedEvent[],
    recorded: Timestamp,
    manager?: EntityManager,
  ): Promise<InsertResult> {
    const unique = dedupeById(events);
    const runner = manager ?? this.dataSource.manager;
    const total: InsertResult = { events: 0, resources: 0 };
    for (let i = 0; i < unique.length; i += INSERT_CHUNK) {
      const chunk = unique.slice(i, i + INSERT_CHUNK);
      const rows = await runner.query<{ events: number; resources: number }[]>(INSERT_EVENTS_SQL, [
        serializeBatch(chunk),
        recorded,
      ]);
      total.events += Number(rows[0].events);
      total.resources += Number(rows[0].resources);
    }
    return total;
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.dataSource.query<T[]>(sql, params);
  }
}

export function dedupeById(events: readonly ReceivedEvent[]): ReceivedEvent[] {
  const seen = new Set<string>();
  const out: ReceivedEvent[] = [];
  for (const e of events) {
    if (seen.has(e.id)) {
      continue;
    }
    seen.add(e.id);
    out.push(e);
  }
  return out;
}

/**
 * The JSON parameter of INSERT_EVENTS_SQL. jsonb cannot hold `\u0000`, so in the rare batch that has one,
 * string values carry it as the visible text `\u0000` instead of failing the whole batch.
 */
export function serializeBatch(events: readonly ReceivedEvent[]): string {
  const rows = events.map((e) => ({
    id: e.id,
    occurred: e.occurred,
    event: e.event,
    resource: e.resource,
    related: e.related,
    payload: e.payload,
    received: e.received,
    follows: e.follows,
  }));
  const json = JSON.stringify(rows);
  if (!json.includes('\\u0000')) {
    return json;
  }
  return JSON.stringify(rows, (_key, value: unknown) =>
    typeof value === 'string' ? value.replace(/\u0000/g, '\\u0000') : value,
  );
}
