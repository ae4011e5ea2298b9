import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two `task_run` indexes that longer ones already lead with: `ix_task_run__flow_run_id` (the natural key
 * `uq_task_run__flow_run_id_task_key_dynamic_key` and `ix_task_run__flow_run_id_expected_start_time` start with
 * `flow_run_id`) and `ix_task_run__state_type` (both `(state_type, …)` indexes start with it). They served no
 * lookup the longer ones do not, and every insert and every state change (a non-HOT update) wrote an entry in
 * each: 23 indexes per row version, now 21 (docs/performance.md, "Seventh round";
 * test/e2e/task-run-entities.e2e-spec.ts keeps it so).
 */
export class DropRedundantTaskRunIndexes1764300017000 implements MigrationInterface {
  name = 'DropRedundantTaskRunIndexes1764300017000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ix_task_run__flow_run_id`);
    await q.query(`DROP INDEX IF EXISTS ix_task_run__state_type`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS ix_task_run__flow_run_id ON task_run (flow_run_id)`);
    await q.query(`CREATE INDEX IF NOT EXISTS ix_task_run__state_type ON task_run (state_type)`);
  }
}
