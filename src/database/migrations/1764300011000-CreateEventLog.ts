import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PostgreSQL message broker (docs/adr/0005-postgres-event-log.md): an append-only log of accepted events,
 * consumer groups with their positions, and a statement trigger that serialises appends so that positions
 * become visible in order (a reader never skips a row committed late by a concurrent transaction).
 */
export class CreateEventLog1764300011000 implements MigrationInterface {
  name = 'CreateEventLog1764300011000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_log (
        position bigserial PRIMARY KEY,
        only_group text NULL,
        event json NOT NULL
      )`);
    await q.query(`
      CREATE TABLE event_log_group (
        name text PRIMARY KEY,
        position bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Taken before any row of the statement gets its position (BEFORE … FOR EACH STATEMENT fires before the
    // rows, and their DEFAULT nextval, are produced) and held until commit: appends commit in position order.
    await q.query(`
      CREATE FUNCTION event_log_serialize_appends() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock(1347569, 1);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER event_log_serialize_appends BEFORE INSERT ON event_log
      FOR EACH STATEMENT EXECUTE FUNCTION event_log_serialize_appends()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER event_log_serialize_appends ON event_log`);
    await q.query(`DROP FUNCTION event_log_serialize_appends()`);
    await q.query(`DROP TABLE event_log_group`);
    await q.query(`DROP TABLE event_log`);
  }
}
