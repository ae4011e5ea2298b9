import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The run tables of docs/reference.md §1.1–1.3 (task_run, task_run_state, task_run_state_cache), the minimal flow,
 * flow_run and deployment tables that task runs need (docs/reference.md §2), and artifacts for API state results.
 * Composite indexes beyond upstream's serve the filter + sort combinations of /task_runs/filter, /count and
 * /history at 1M+ rows.
 */
export class CreateFlowsAndTaskRuns1764300001000 implements MigrationInterface {
  name = 'CreateFlowsAndTaskRuns1764300001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await q.query(
      `CREATE TYPE state_type AS ENUM ('SCHEDULED','PENDING','RUNNING','COMPLETED','FAILED','CANCELLED','CRASHED','PAUSED','CANCELLING')`,
    );

    await q.query(`CREATE TABLE flow (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      name text NOT NULL,
      tags jsonb NOT NULL DEFAULT '[]',
      labels jsonb NULL,
      CONSTRAINT uq_flow__name UNIQUE (name)
    )`);
    await q.query(`CREATE INDEX ix_flow__updated ON flow (updated)`);

    await q.query(`CREATE TABLE deployment (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      name text NOT NULL,
      flow_id uuid NOT NULL REFERENCES flow(id) ON DELETE CASCADE,
      paused boolean NOT NULL DEFAULT false,
      tags jsonb NOT NULL DEFAULT '[]',
      labels jsonb NULL,
      work_queue_name text NULL,
      concurrency_limit integer NULL,
      CONSTRAINT uq_deployment__flow_id_name UNIQUE (flow_id, name)
    )`);
    await q.query(`CREATE INDEX ix_deployment__updated ON deployment (updated)`);

    await q.query(`CREATE TABLE flow_run (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      name text NOT NULL,
      flow_id uuid NOT NULL REFERENCES flow(id) ON DELETE CASCADE,
      deployment_id uuid NULL REFERENCES deployment(id) ON DELETE SET NULL,
      work_queue_name text NULL,
      flow_version text NULL,
      parameters jsonb NOT NULL DEFAULT '{}',
      idempotency_key text NULL,
      context jsonb NOT NULL DEFAULT '{}',
      empirical_policy jsonb NOT NULL DEFAULT '{}',
      tags jsonb NOT NULL DEFAULT '[]',
      labels jsonb NULL,
      created_by jsonb NULL,
      parent_task_run_id uuid NULL,
      state_id uuid NULL,
      state_type state_type NULL,
      state_name text NULL,
      state_timestamp timestamptz NULL,
      state jsonb NULL,
      run_count integer NOT NULL DEFAULT 0,
      expected_start_time timestamptz NULL,
      next_scheduled_start_time timestamptz NULL,
      start_time timestamptz NULL,
      end_time timestamptz NULL,
      total_run_time interval NOT NULL DEFAULT '0'
    )`);
    await q.query(`CREATE INDEX ix_flow_run__flow_id ON flow_run (flow_id)`);
    await q.query(`CREATE INDEX ix_flow_run__deployment_id ON flow_run (deployment_id)`);
    await q.query(`CREATE INDEX ix_flow_run__parent_task_run_id ON flow_run (parent_task_run_id)`);
    await q.query(`CREATE INDEX ix_flow_run__state_type ON flow_run (state_type)`);
    await q.query(`CREATE INDEX ix_flow_run__updated ON flow_run (updated)`);
    await q.query(`CREATE INDEX ix_flow_run__name ON flow_run (name)`);

    await q.query(`CREATE TABLE task_run (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      name text NOT NULL,
      flow_run_id uuid NULL REFERENCES flow_run(id) ON DELETE CASCADE,
      task_key text NOT NULL,
      dynamic_key text NOT NULL,
      cache_key text NULL,
      cache_expiration timestamptz NULL,
      task_version text NULL,
      flow_run_run_count integer NOT NULL DEFAULT 0,
      run_count integer NOT NULL DEFAULT 0,
      empirical_policy jsonb NOT NULL DEFAULT '{}',
      task_inputs jsonb NOT NULL DEFAULT '{}',
      tags jsonb NOT NULL DEFAULT '[]',
      labels jsonb NULL,
      state_id uuid NULL,
      state_type state_type NULL,
      state_name text NULL,
      state_timestamp timestamptz NULL,
      expected_start_time timestamptz NULL,
      next_scheduled_start_time timestamptz NULL,
      start_time timestamptz NULL,
      end_time timestamptz NULL,
      total_run_time interval NOT NULL DEFAULT '0',
      CONSTRAINT uq_task_run__flow_run_id_task_key_dynamic_key UNIQUE (flow_run_id, task_key, dynamic_key)
    )`);
    await q.query(
      `ALTER TABLE flow_run ADD CONSTRAINT fk_flow_run__parent_task_run_id FOREIGN KEY (parent_task_run_id) REFERENCES task_run(id) ON DELETE SET NULL`,
    );
    await q.query(`CREATE INDEX ix_task_run__flow_run_id ON task_run (flow_run_id)`);
    await q.query(`CREATE INDEX ix_task_run__name ON task_run (name)`);
    await q.query(`CREATE INDEX trgm_ix_task_run_name ON task_run USING gin (name gin_trgm_ops)`);
    await q.query(`CREATE INDEX ix_task_run__updated ON task_run (updated)`);
    await q.query(`CREATE INDEX ix_task_run__state_id ON task_run (state_id)`);
    await q.query(
      `CREATE INDEX ix_task_run__expected_start_time_desc ON task_run (expected_start_time DESC)`,
    );
    await q.query(
      `CREATE INDEX ix_task_run__next_scheduled_start_time_asc ON task_run (next_scheduled_start_time ASC)`,
    );
    await q.query(`CREATE INDEX ix_task_run__end_time_desc ON task_run (end_time DESC)`);
    await q.query(`CREATE INDEX ix_task_run__start_time ON task_run (start_time)`);
    await q.query(`CREATE INDEX ix_task_run__state_type ON task_run (state_type)`);
    await q.query(`CREATE INDEX ix_task_run__state_type_start_time ON task_run (state_type, start_time)`);
    await q.query(`CREATE INDEX ix_task_run__state_name ON task_run (state_name)`);
    await q.query(`CREATE INDEX ix_task_run__state_timestamp ON task_run (state_timestamp)`);
    // Beyond upstream: filter + sort combinations at scale.
    await q.query(
      `CREATE INDEX ix_task_run__flow_run_id_expected_start_time ON task_run (flow_run_id, expected_start_time DESC)`,
    );
    await q.query(
      `CREATE INDEX ix_task_run__state_type_expected_start_time ON task_run (state_type, expected_start_time DESC)`,
    );
    await q.query(`CREATE INDEX ix_task_run__task_key_state_type ON task_run (task_key, state_type)`);
    await q.query(`CREATE INDEX ix_task_run__tags ON task_run USING gin (tags jsonb_path_ops)`);

    await q.query(`CREATE TABLE artifact (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      key text NULL,
      type text NULL,
      description text NULL,
      data jsonb NULL,
      metadata_ jsonb NULL,
      task_run_id uuid NULL,
      flow_run_id uuid NULL
    )`);
    await q.query(`CREATE INDEX ix_artifact__key ON artifact (key)`);
    await q.query(`CREATE INDEX ix_artifact__task_run_id ON artifact (task_run_id)`);
    await q.query(`CREATE INDEX ix_artifact__flow_run_id ON artifact (flow_run_id)`);

    await q.query(`CREATE TABLE task_run_state (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      task_run_id uuid NOT NULL REFERENCES task_run(id) ON DELETE CASCADE,
      type state_type NOT NULL,
      timestamp timestamptz NOT NULL DEFAULT now(),
      name text NOT NULL,
      message text NULL,
      state_details jsonb NOT NULL DEFAULT '{}',
      data jsonb NULL,
      result_artifact_id uuid NULL REFERENCES artifact(id) ON DELETE SET NULL
    )`);
    await q.query(
      `CREATE UNIQUE INDEX uq_task_run_state__task_run_id_timestamp_desc ON task_run_state (task_run_id, timestamp DESC)`,
    );
    await q.query(`CREATE INDEX ix_task_run_state__type ON task_run_state (type)`);
    await q.query(`CREATE INDEX ix_task_run_state__name ON task_run_state (name)`);
    await q.query(`CREATE INDEX ix_task_run_state__updated ON task_run_state (updated)`);
    await q.query(
      `CREATE INDEX ix_task_run_state__result_artifact_id ON task_run_state (result_artifact_id)`,
    );

    await q.query(`CREATE TABLE task_run_state_cache (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created timestamptz NOT NULL DEFAULT now(),
      updated timestamptz NOT NULL DEFAULT now(),
      cache_key text NOT NULL,
      cache_expiration timestamptz NULL,
      task_run_state_id uuid NOT NULL
    )`);
    await q.query(
      `CREATE INDEX ix_task_run_state_cache__cache_key_created_desc ON task_run_state_cache (cache_key, created DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_run_state_cache`);
    await q.query(`DROP TABLE task_run_state`);
    await q.query(`DROP TABLE artifact`);
    await q.query(`ALTER TABLE flow_run DROP CONSTRAINT fk_flow_run__parent_task_run_id`);
    await q.query(`DROP TABLE task_run`);
    await q.query(`DROP TABLE flow_run`);
    await q.query(`DROP TABLE deployment`);
    await q.query(`DROP TABLE flow`);
    await q.query(`DROP TYPE state_type`);
  }
}
