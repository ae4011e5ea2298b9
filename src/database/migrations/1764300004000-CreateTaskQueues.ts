import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Durable background-task delivery (docs/reference.md, beyond upstream 1). `task_queue_item` holds one row per background
 * task run that is queued, in flight (leased to a replica's websocket) or acked (a tombstone, so start-up
 * restore does not deliver an acked run again while its state is still SCHEDULED). `task_worker` is the
 * task-worker tracker shared by every replica (one row per replica and worker id, refreshed by heartbeat).
 * `snapshot` is `json`, not `jsonb`: it is only stored and sent back, so it keeps the TaskRun JSON's text and
 * field order and skips the binary conversion.
 */
export class CreateTaskQueues1764300004000 implements MigrationInterface {
  name = 'CreateTaskQueues1764300004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE task_queue_item_seq`);
    await q.query(`CREATE TABLE task_queue_item (
      task_run_id uuid PRIMARY KEY REFERENCES task_run(id) ON DELETE CASCADE,
      task_key text NOT NULL,
      queue text NOT NULL CHECK (queue IN ('scheduled', 'retry')),
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'leased', 'acked')),
      seq bigint NOT NULL DEFAULT nextval('task_queue_item_seq'),
      snapshot json NOT NULL,
      enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      attempts integer NOT NULL DEFAULT 0,
      lease_owner text NULL,
      lease_token uuid NULL,
      lease_expires_at timestamptz NULL,
      delivered_at timestamptz NULL
    )`);
    await q.query(`ALTER SEQUENCE task_queue_item_seq OWNED BY task_queue_item.seq`);
    await q.query(
      `CREATE INDEX ix_task_queue_item__claim ON task_queue_item (task_key, queue, seq) WHERE status = 'queued'`,
    );
    await q.query(
      `CREATE INDEX ix_task_queue_item__lease_expires_at ON task_queue_item (lease_expires_at) WHERE status = 'leased'`,
    );
    await q.query(
      `CREATE INDEX ix_task_queue_item__acked ON task_queue_item (task_run_id) WHERE status = 'acked'`,
    );

    await q.query(`CREATE TABLE task_worker (
      replica_id text NOT NULL,
      identifier text NOT NULL,
      task_keys text[] NOT NULL,
      last_seen timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (replica_id, identifier)
    )`);
    await q.query(`CREATE INDEX ix_task_worker__last_seen ON task_worker (last_seen)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_worker`);
    await q.query(`DROP TABLE task_queue_item`);
  }
}
