import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tag concurrency limits (docs/reference.md §4.4): v1 `concurrency_limit` (one row per tag, the holders' task-run ids in
 * `active_slots`), v2 `concurrency_limit_v2` (named limits, `tag:<tag>` for tags, a slot counter), and
 * `concurrency_lease`: one row per slot a holder (a task run) has on a v2 limit. The unique
 * (limit, holder) makes a lease a set member, so a restarted RUNNING never takes a second slot.
 *
 * Beyond upstream: deleting a tagged task run (directly or through its flow run's cascade) gives back the slots
 * it still holds, so a deleted RUNNING run cannot hold a tag limit forever. The trigger locks the v2 limits in
 * name order, like the slot service, so it cannot deadlock with a concurrent acquisition.
 */
export class CreateConcurrencyLimits1764300005000 implements MigrationInterface {
  name = 'CreateConcurrencyLimits1764300005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE concurrency_limit (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      tag text NOT NULL,
      concurrency_limit integer NOT NULL,
      active_slots jsonb NOT NULL DEFAULT '[]',
      CONSTRAINT uq_concurrency_limit__tag UNIQUE (tag)
    )`);
    await q.query(`CREATE INDEX ix_concurrency_limit__updated ON concurrency_limit (updated)`);

    await q.query(`CREATE TABLE concurrency_limit_v2 (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      active boolean NOT NULL DEFAULT true,
      name text NOT NULL,
      "limit" integer NOT NULL,
      active_slots integer NOT NULL DEFAULT 0,
      denied_slots integer NOT NULL DEFAULT 0,
      slot_decay_per_second double precision NOT NULL DEFAULT 0,
      avg_slot_occupancy_seconds double precision NOT NULL DEFAULT 2.0,
      CONSTRAINT uq_concurrency_limit_v2__name UNIQUE (name),
      CONSTRAINT ck_concurrency_limit_v2__limit CHECK ("limit" >= 0),
      CONSTRAINT ck_concurrency_limit_v2__active_slots CHECK (active_slots >= 0),
      CONSTRAINT ck_concurrency_limit_v2__denied_slots CHECK (denied_slots >= 0)
    )`);
    await q.query(`CREATE INDEX ix_concurrency_limit_v2__updated ON concurrency_limit_v2 (updated)`);

    await q.query(`CREATE TABLE concurrency_lease (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      limit_id uuid NOT NULL REFERENCES concurrency_limit_v2(id) ON DELETE CASCADE,
      holder_type text NOT NULL,
      holder_id uuid NOT NULL,
      slots integer NOT NULL DEFAULT 1,
      CONSTRAINT uq_concurrency_lease__limit_id_holder UNIQUE (limit_id, holder_type, holder_id)
    )`);
    await q.query(`CREATE INDEX ix_concurrency_lease__holder ON concurrency_lease (holder_type, holder_id)`);

    await q.query(`CREATE FUNCTION release_deleted_task_run_concurrency_slots() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM 1 FROM concurrency_limit_v2 WHERE id IN (
          SELECT limit_id FROM concurrency_lease WHERE holder_type = 'task_run' AND holder_id = OLD.id)
        ORDER BY name FOR UPDATE;
        WITH gone AS (
          DELETE FROM concurrency_lease WHERE holder_type = 'task_run' AND holder_id = OLD.id
          RETURNING limit_id, slots)
        UPDATE concurrency_limit_v2 v SET active_slots = GREATEST(0, v.active_slots - gone.slots), updated = now()
        FROM gone WHERE v.id = gone.limit_id;
        UPDATE concurrency_limit SET active_slots = active_slots - OLD.id::text, updated = now()
        WHERE tag IN (SELECT jsonb_array_elements_text(OLD.tags))
          AND active_slots @> jsonb_build_array(OLD.id::text);
        RETURN NULL;
      END
      $fn$`);
    await q.query(`CREATE TRIGGER trg_task_run__release_concurrency_slots AFTER DELETE ON task_run
      FOR EACH ROW WHEN (OLD.tags <> '[]'::jsonb) EXECUTE FUNCTION release_deleted_task_run_concurrency_slots()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER trg_task_run__release_concurrency_slots ON task_run`);
    await q.query(`DROP FUNCTION release_deleted_task_run_concurrency_slots()`);
    await q.query(`DROP TABLE concurrency_lease`);
    await q.query(`DROP TABLE concurrency_limit_v2`);
    await q.query(`DROP TABLE concurrency_limit`);
  }
}
