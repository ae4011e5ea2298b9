import { MigrationInterface, QueryRunner } from 'typeorm';

/** The states whose runs have an end time, each with its own `END_TIME_DESC` index (see below). */
export const END_TIME_STATES = ['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'] as const;

/**
 * `/task_runs/filter` sorted `END_TIME_DESC` with a state filter (docs/performance.md, "Queries"): `DESC` puts
 * NULL end times first, so the planner's walk of `ix_task_run__end_time_desc` filtered every unfinished run
 * (375k index entries at 1M rows, 150–350 ms) before the first FAILED one. A partial index per state that ends a
 * run gives that order directly; a `(state_type, end_time DESC)` index does not help, as the planner prefers the
 * heap-correlated single-column index. Each row is in at most one of them, so together they cost one entry
 * per finished run.
 */
export class TaskRunEndTimeByTerminalState1764300013000 implements MigrationInterface {
  name = 'TaskRunEndTimeByTerminalState1764300013000';

  async up(q: QueryRunner): Promise<void> {
    for (const state of END_TIME_STATES) {
      await q.query(
        `CREATE INDEX ix_task_run__end_time_desc_${state.toLowerCase()} ON task_run (end_time DESC)
         WHERE state_type = '${state}'`,
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const state of END_TIME_STATES) {
      await q.query(`DROP INDEX ix_task_run__end_time_desc_${state.toLowerCase()}`);
    }
  }
}
