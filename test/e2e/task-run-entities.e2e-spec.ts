import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { DeploymentEntity } from '../../src/flow-runs/entities/deployment.entity';
import { FlowRunEntity } from '../../src/flow-runs/entities/flow-run.entity';
import { FlowEntity } from '../../src/flow-runs/entities/flow.entity';
import { ArtifactEntity } from '../../src/task-runs/entities/artifact.entity';
import { TaskRunCountDeltaEntity } from '../../src/task-runs/entities/task-run-count-delta.entity';
import { TaskRunStateCacheEntity } from '../../src/task-runs/entities/task-run-state-cache.entity';
import { TaskRunStateEntity } from '../../src/task-runs/entities/task-run-state.entity';
import { TaskRunEntity } from '../../src/task-runs/entities/task-run.entity';
import { createTestDatabase } from '../utils/test-database';

/** The tables the task-runs entities describe (their statements live in TaskRunsRepository). */
const TASK_RUN_TABLES = [
  'task_run',
  'task_run_state',
  'task_run_state_cache',
  'artifact',
  'task_run_count_delta',
];

/**
 * The task-runs entities are truthful: TypeORM's schema diff (what `migration:generate` would write) against a
 * database built by the migrations has nothing to say about their tables (columns, types, defaults, nullability,
 * indexes, unique constraints, foreign keys).
 */
describe('task-runs entities match the migrated schema', () => {
  let ds: DataSource;

  beforeAll(async () => {
    const url = await createTestDatabase();
    ds = await new DataSource({
      ...dataSourceOptions({ url, poolSize: 1 }),
      entities: [
        TaskRunEntity,
        TaskRunStateEntity,
        TaskRunStateCacheEntity,
        ArtifactEntity,
        TaskRunCountDeltaEntity,
        FlowRunEntity,
        FlowEntity,
        DeploymentEntity,
      ],
    }).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('should generate no statement for task_run, task_run_state, task_run_state_cache, artifact or task_run_count_delta', async () => {
    const sql = await ds.driver.createSchemaBuilder().log();
    const mine = sql.upQueries
      .map((q) => q.query)
      // flow_run's own statements (its parent_task_run_id key is the flow-runs module's) are not ours.
      .filter((q) => !/"flow_run"|ix_flow_run__/.test(q))
      .filter((q) => TASK_RUN_TABLES.some((t) => new RegExp(`"${t}"|\\b${t}__|_${t}_`).test(q)));
    expect(mine).toEqual([]);
  });

  it('should keep no btree index that a longer one on the same table already leads with (every write pays for each)', async () => {
    // A plain, non-unique btree index whose columns are the leading columns of another plain btree index serves
    // no lookup or order the longer one cannot (a btree scans either way), and every insert and non-HOT update
    // of the table writes both (docs/performance.md, "Seventh round").
    const rows: { tbl: string; shorter: string; longer: string }[] = await ds.query(
      `SELECT t.relname AS tbl, si.relname AS shorter, li.relname AS longer
         FROM pg_index s
         JOIN pg_index l ON l.indrelid = s.indrelid AND l.indexrelid <> s.indexrelid
         JOIN pg_class t ON t.oid = s.indrelid
         JOIN pg_class si ON si.oid = s.indexrelid
         JOIN pg_class li ON li.oid = l.indexrelid
         JOIN pg_am sa ON sa.oid = si.relam AND sa.amname = 'btree'
         JOIN pg_am la ON la.oid = li.relam AND la.amname = 'btree'
        WHERE t.relname = ANY($1::text[])
          AND NOT s.indisunique AND s.indpred IS NULL AND l.indpred IS NULL
          AND s.indnkeyatts < l.indnkeyatts
          AND (l.indkey::int2[])[0:s.indnkeyatts - 1] = (s.indkey::int2[])[0:s.indnkeyatts - 1]
        ORDER BY 1, 2, 3`,
      [TASK_RUN_TABLES],
    );
    expect(rows).toEqual([]);
  });
});
