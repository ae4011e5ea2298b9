import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `events` and `event_resources` (docs/reference.md §1.4–1.5). Indexes are upstream's, except that `(occurred)` and
 * `(event, occurred)` are left out because `(occurred, id)` and `(event, occurred, id)` serve the same
 * lookups as their prefixes (two fewer b-trees to maintain on every insert); `event_resources(event_id)` serves
 * the persister's and the retention service's joins and the related/any-resource filters. Not partitioned:
 * retention deletes in bounded batches (see src/services/event-retention/event-retention.background.ts).
 */
export class CreateEvents1764300003000 implements MigrationInterface {
  name = 'CreateEvents1764300003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE events (
      id uuid PRIMARY KEY,
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      occurred timestamptz NOT NULL,
      event text NOT NULL,
      resource_id text NOT NULL,
      resource jsonb NOT NULL,
      related_resource_ids jsonb NOT NULL DEFAULT '[]',
      related jsonb NOT NULL DEFAULT '[]',
      payload jsonb NOT NULL DEFAULT '{}',
      received timestamptz NOT NULL,
      recorded timestamptz NOT NULL,
      follows uuid NULL
    )`);
    await q.query(
      `CREATE INDEX ix_events__related_resource_ids_gin ON events USING gin (related_resource_ids)`,
    );
    await q.query(`CREATE INDEX ix_events__related_gin ON events USING gin (related)`);
    await q.query(`CREATE INDEX ix_events__occurred_id ON events (occurred, id)`);
    await q.query(`CREATE INDEX ix_events__event_id ON events (event, id)`);
    await q.query(
      `CREATE INDEX ix_events__event_resource_id_occurred ON events (event, resource_id, occurred)`,
    );
    await q.query(`CREATE INDEX ix_events__event_occurred_id ON events (event, occurred, id)`);

    await q.query(`CREATE TABLE event_resources (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      occurred timestamptz NOT NULL,
      resource_id text NOT NULL,
      resource_role text NOT NULL,
      resource jsonb NOT NULL,
      event_id uuid NOT NULL
    )`);
    await q.query(
      `CREATE INDEX ix_event_resources__resource_id_occurred ON event_resources (resource_id, occurred)`,
    );
    await q.query(`CREATE INDEX ix_event_resources__occurred ON event_resources (occurred)`);
    await q.query(`CREATE INDEX ix_event_resources__event_id ON event_resources (event_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE event_resources`);
    await q.query(`DROP TABLE events`);
  }
}
