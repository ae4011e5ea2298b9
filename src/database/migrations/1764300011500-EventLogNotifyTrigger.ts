import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Appends to the event log are `COPY … FROM STDIN` (docs/adr/0005-postgres-event-log.md), which cannot carry a
 * `pg_notify` of its own: a statement trigger sends the wake-up instead, delivered at the append's commit. The
 * payload is empty (listeners only need to know there is something new); identical notifications of one
 * transaction are folded into one.
 */
export class EventLogNotifyTrigger1764300011500 implements MigrationInterface {
  name = 'EventLogNotifyTrigger1764300011500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION event_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('prefect_event_log', '');
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER event_log_notify AFTER INSERT ON event_log
      FOR EACH STATEMENT EXECUTE FUNCTION event_log_notify()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER event_log_notify ON event_log`);
    await q.query(`DROP FUNCTION event_log_notify()`);
  }
}
