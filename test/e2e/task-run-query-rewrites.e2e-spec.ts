import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { SqlParams } from '../../src/database/sql-params';
import type { TaskRunFiltersDto } from '../../src/task-runs/dto/filters.dto';
import { compileTaskRunWhere, SORT_SQL } from '../../src/task-runs/filters/task-run-filter.compiler';
import { mergeableFlowRuns } from '../../src/task-runs/task-run-queries.service';
import { TaskRunsRepository } from '../../src/task-runs/task-runs.repository';
import { insertFlowRun } from '../factories/flow-run.sql';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * `/task_runs/filter` with `flow_runs.id.any_` and a sort by expected start time reads one ordered index scan per
 * flow run, merged (docs/performance.md, "Queries"). It must answer what the plain statement (one WHERE over the
 * table, `TaskRunsRepository.select`) answers, page by page. Runs with equal start times (the NULLs here) may come
 * in either order in both, so pages are compared with ties in id order.
 */
describe('flow-run lists merged per flow run', () => {
  let t: TestApp;
  let ds: DataSource;
  let repo: TaskRunsRepository;
  const flowRuns: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({ env: { PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false' } });
    ds = t.dataSource;
    repo = t.app.get(TaskRunsRepository);
    for (let f = 0; f < 4; f++) {
      flowRuns.push(await insertFlowRun(ds));
    }
    // 4 flow runs × 15 runs with interleaved start times, two NULL ones in the first, plus runs of no flow run.
    await ds.query(
      `INSERT INTO task_run (name, flow_run_id, task_key, dynamic_key, state_type, expected_start_time)
       SELECT 'r' || g, CASE WHEN g % 5 = 4 THEN NULL ELSE ($1::uuid[])[1 + g % 4] END, 'k', g::text,
              (ARRAY['COMPLETED','FAILED','RUNNING']::state_type[])[1 + g % 3],
              CASE WHEN g IN (4, 8) THEN NULL ELSE timestamptz '2026-01-01' + g * interval '1 minute' END
         FROM generate_series(1, 75) g`,
      [flowRuns],
    );
  });

  afterAll(async () => {
    await t.close();
  });

  /** Ids in answer order, ties of expected start time put in id order. */
  const normalise = (rows: { id: string; expected_start_time: string | null }[]): string[] => {
    const key = (r: { expected_start_time: string | null }) => r.expected_start_time ?? 'null';
    return rows
      .map((r, i) => ({ r, i }))
      .sort((a, b) => {
        const ta = key(a.r);
        const tb = key(b.r);
        return ta === tb ? a.r.id.localeCompare(b.r.id) : a.i - b.i;
      })
      .map(({ r }) => r.id);
  };

  const plain = async (
    filters: TaskRunFiltersDto,
    sort: keyof typeof SORT_SQL,
    limit: number,
    offset: number,
  ) => {
    const p = new SqlParams();
    const where = compileTaskRunWhere(filters, p);
    return repo.select(where, SORT_SQL[sort], p.add(limit, 'bigint'), p.add(offset, 'bigint'), p);
  };

  it('should answer the same pages as the plain statement', async () => {
    const [a, b, c] = flowRuns;
    const lists = [[a, b], [a], [b, c, a], [a, a, b.toUpperCase()], [c, randomUUID()], flowRuns];
    const taskRunFilters: (TaskRunFiltersDto['task_runs'] | undefined)[] = [
      undefined,
      { state: { type: { any_: ['FAILED', 'COMPLETED'] } } },
      { name: { any_: ['r1', 'r2', 'r3', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10'] } },
    ];
    let compared = 0;
    for (const ids of lists) {
      for (const taskRuns of taskRunFilters) {
        for (const sort of ['EXPECTED_START_TIME_ASC', 'EXPECTED_START_TIME_DESC'] as const) {
          for (const [limit, offset] of [
            [7, 0],
            [7, 5],
            [5, 20],
            [200, 0],
          ]) {
            const filters: TaskRunFiltersDto = { flow_runs: { id: { any_: ids } }, task_runs: taskRuns };
            expect(mergeableFlowRuns(filters, sort)).toBeDefined();
            const res = await request(t.baseUrl)
              .post('/api/task_runs/filter')
              .send({ ...filters, sort, limit, offset })
              .expect(200);
            const expected = normalise(await plain(filters, sort, limit, offset));
            const got = normalise(res.body as { id: string; expected_start_time: string | null }[]);
            expect({ ids, taskRuns, sort, limit, offset, got }).toEqual({
              ids,
              taskRuns,
              sort,
              limit,
              offset,
              got: expected,
            });
            compared += expected.length;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(300);
  });

  it('should keep the plain statement for other sorts, long lists and other flow-run filters', () => {
    const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
    expect(mergeableFlowRuns({ flow_runs: { id: { any_: ids(2) } } }, 'ID_DESC')).toBeUndefined();
    expect(
      mergeableFlowRuns({ flow_runs: { id: { any_: ids(17) } } }, 'EXPECTED_START_TIME_ASC'),
    ).toBeUndefined();
    expect(mergeableFlowRuns({ flow_runs: { id: { any_: [] } } }, 'EXPECTED_START_TIME_ASC')).toBeUndefined();
    expect(
      mergeableFlowRuns(
        { flow_runs: { id: { any_: ids(2) }, tags: { all_: ['x'] } } },
        'EXPECTED_START_TIME_ASC',
      ),
    ).toBeUndefined();
    expect(
      mergeableFlowRuns({ flow_runs: { id: { any_: ids(2) } }, flows: {} }, 'EXPECTED_START_TIME_ASC'),
    ).toBeUndefined();
    expect(
      mergeableFlowRuns(
        { flow_runs: { id: { any_: ids(2) } }, task_runs: { name: { like_: 'abc' } } },
        'EXPECTED_START_TIME_ASC',
      ),
    ).toBeUndefined();
  });
});
