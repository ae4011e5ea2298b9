import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { STATE_TYPES } from '../../src/orchestration/states';
import {
  FOLDED_ROWS,
  TaskRunCountsService,
} from '../../src/services/task-run-counts/task-run-counts.background';
import { TaskRunBulkWriter } from '../../src/task-runs/bulk/task-run-bulk.writer';
import { TaskRunsRepository } from '../../src/task-runs/task-runs.repository';
import { insertFlowRun } from '../factories/flow-run.sql';
import { at, runLifecycle, taskRunEvent } from '../factories/task-run-event.factory';
import { createTaskRun, taskRunBody } from '../factories/task-run.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { createTestDatabase } from '../utils/test-database';

jest.setTimeout(120_000);

/** The state-type filters whose counts come from the maintained counts (and the empty filter). */
const SCOPES: (string[] | null)[] = [
  null,
  ...STATE_TYPES.map((t) => [t]),
  ['COMPLETED', 'FAILED', 'CRASHED'],
  ['PENDING', 'RUNNING'],
  [],
];

/**
 * `/task_runs/count` answers the empty filter and state-type filters from the maintained counts
 * (docs/performance.md, "Queries, second round"). Each step writes through one write path and then compares every
 * such count with `count(*)` of the table; under concurrent writers and folds, the delta sums are compared with
 * `count(*)` in one statement (one snapshot) while they run.
 */
describe('maintained task-run counts', () => {
  let t: TestApp;
  let ds: DataSource;
  let counts: TaskRunCountsService;
  let repo: TaskRunsRepository;
  const api = () => request(t.baseUrl);

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        // Folds are driven by the tests (and raced against writers below); batches are small to make many.
        PREFECT_SERVER_SERVICES_TASK_RUN_COUNTS_ENABLED: 'false',
        PREFECT_SERVER_SERVICES_TASK_RUN_COUNTS_BATCH_SIZE: '20',
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false',
      },
    });
    ds = t.dataSource;
    counts = t.app.get(TaskRunCountsService);
    repo = t.app.get(TaskRunsRepository);
  });

  afterAll(async () => {
    await t.close();
  });

  const apiCount = async (types: string[] | null, body: Record<string, unknown> = {}): Promise<number> => {
    const filter = types ? { task_runs: { state: { type: { any_: types } } } } : {};
    const res = await api()
      .post('/api/task_runs/count')
      .send({ ...filter, ...body })
      .expect(200);
    return res.body as number;
  };

  const tableCount = async (types: string[] | null): Promise<number> => {
    const [row] = await ds.query<{ n: number }[]>(
      types
        ? `SELECT count(*)::int AS n FROM task_run WHERE state_type = ANY($1::state_type[])`
        : `SELECT count(*)::int AS n FROM task_run`,
      types ? [types] : [],
    );
    return row.n;
  };

  /** Every maintained count, through the API, equals count(*) of the table (no writer is running). */
  const expectExact = async (): Promise<void> => {
    for (const scope of SCOPES) {
      expect({ scope, count: await apiCount(scope) }).toEqual({ scope, count: await tableCount(scope) });
    }
    // `/ui/task_runs/count`: runs per state type, for the same scopes.
    for (const scope of [null, ['FAILED', 'RUNNING']]) {
      const filter = scope ? { task_runs: { state: { type: { any_: scope } } } } : {};
      const res = await api().post('/api/ui/task_runs/count').send(filter).expect(200);
      const expected = Object.fromEntries(
        await Promise.all(
          STATE_TYPES.map(async (s) => [s, scope && !scope.includes(s) ? 0 : await tableCount([s])]),
        ),
      );
      expect({ scope, counts: res.body as unknown }).toEqual({ scope, counts: expected });
    }
    await expectSnapshotExact();
  };

  /**
   * In one statement (one snapshot), per state type including NULL: the delta sums equal count(*). Holds at any
   * moment, whatever writers and folds are doing.
   */
  const expectSnapshotExact = async (): Promise<void> => {
    const rows = await ds.query<{ state_type: string | null; maintained: number; actual: number }[]>(
      `SELECT coalesce(d.k, r.k) AS state_type, coalesce(d.n, 0)::int AS maintained, coalesce(r.n, 0)::int AS actual
         FROM (SELECT coalesce(state_type::text, 'NULL') AS k, sum(delta) AS n FROM task_run_count_delta GROUP BY 1) d
         FULL JOIN (SELECT coalesce(state_type::text, 'NULL') AS k, count(*) AS n FROM task_run GROUP BY 1) r
           ON r.k = d.k`,
    );
    for (const r of rows) {
      expect(r).toEqual({ ...r, maintained: r.actual });
    }
  };

  const deltaRows = async (): Promise<number> =>
    (await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM task_run_count_delta`))[0].n;

  const setState = (id: string, type: string, force = true) =>
    api().post(`/api/task_runs/${id}/set_state`).send({ state: { type }, force });

  it('should count nothing in an empty table', async () => {
    await expectExact();
    expect(await apiCount(null)).toBe(0);
  });

  it('should count runs created through the API, one by one and concurrently, duplicates included', async () => {
    const flowRunId = await insertFlowRun(ds);
    await createTaskRun(t.baseUrl);
    await createTaskRun(t.baseUrl, { state: { type: 'PENDING' } });
    await createTaskRun(t.baseUrl, { flow_run_id: flowRunId, state: { type: 'RUNNING' } });
    await createTaskRun(t.baseUrl, { state: { type: 'SCHEDULED', state_details: { deferred: true } } });
    await expectExact();

    const bodies = Array.from({ length: 40 }, (_, i) =>
      taskRunBody({
        flow_run_id: i % 2 ? flowRunId : null,
        state: { type: (['PENDING', 'RUNNING', 'COMPLETED', 'FAILED'] as const)[i % 4] },
      }),
    );
    // Each body twice: the second answers 200 with the first's run, and must not be counted again.
    const answers = await Promise.all(
      [...bodies, ...bodies].map((b) => api().post('/api/task_runs/').send(b)),
    );
    expect(answers.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(40);
    await expectExact();
  });

  it('should follow state changes through set_state, concurrent ones and rejected ones included', async () => {
    const runs = await Promise.all(
      Array.from({ length: 24 }, () => createTaskRun(t.baseUrl, { state: { type: 'PENDING' } })),
    );
    await expectExact();
    for (const r of runs.slice(0, 4)) {
      await setState(r.id, 'RUNNING').expect(201);
    }
    await expectExact();
    // Distinct runs at once (grouped), and several proposals for one run at once.
    await Promise.all(runs.map((r, i) => setState(r.id, i % 3 ? 'RUNNING' : 'FAILED')));
    await Promise.all(['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'].map((s) => setState(runs[5].id, s)));
    await expectExact();
    // Rejected (not forced: PENDING → PENDING is refused by the orchestration rules) changes nothing.
    const pending = await createTaskRun(t.baseUrl, { state: { type: 'PENDING' } });
    const before = await apiCount(['PENDING']);
    const res = await setState(pending.id, 'PENDING', false);
    expect(res.status).toBeLessThan(300);
    expect(await apiCount(['PENDING'])).toBe(before);
    await expectExact();
  });

  it('should not write a delta for updates that keep every state type (rename)', async () => {
    const run = await createTaskRun(t.baseUrl, { state: { type: 'RUNNING' } });
    const rows = await deltaRows();
    await api().patch(`/api/task_runs/${run.id}`).send({ name: 'renamed' }).expect(204);
    expect(await deltaRows()).toBe(rows);
    await expectExact();
  });

  it('should follow deletes of runs and of flow runs (cascade)', async () => {
    const flowRunId = await insertFlowRun(ds);
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        createTaskRun(t.baseUrl, { flow_run_id: flowRunId, state: { type: i % 2 ? 'RUNNING' : 'PENDING' } }),
      ),
    );
    const alone = await createTaskRun(t.baseUrl, { state: { type: 'COMPLETED' } });
    await expectExact();
    await api().delete(`/api/task_runs/${alone.id}`).expect(204);
    await api().delete(`/api/task_runs/${runs[0].id}`).expect(204);
    await expectExact();
    await api().delete(`/api/flow_runs/${flowRunId}`).expect(204);
    expect(await tableCount(null)).toBeGreaterThan(0);
    await expectExact();
  });

  it("should follow the recorder's bulk upserts: new runs, newer states, stale states", async () => {
    const writer = new TaskRunBulkWriter(ds);
    const flowRunId = await insertFlowRun(ds);
    const ids = Array.from({ length: 10 }, () => randomUUID());
    const lifecycles = ids.map((id, i) => runLifecycle(id, i % 2 ? flowRunId : null, 0, `rec-${i}`));
    // PENDING of every run (inserts), then RUNNING and COMPLETED in one batch (updates), then PENDING again
    // (older than what is stored: no update).
    await writer.recordBulkTaskRunEvents(lifecycles.map((l) => l[0]));
    await expectExact();
    await writer.recordBulkTaskRunEvents(lifecycles.flatMap((l, i) => (i % 3 ? [l[1], l[2]] : [l[1]])));
    await expectExact();
    await writer.recordBulkTaskRunEvents(lifecycles.map((l) => l[0]));
    // One batch mixing new runs and updates of existing ones (one INSERT … ON CONFLICT DO UPDATE statement).
    const fresh = randomUUID();
    await writer.recordBulkTaskRunEvents([
      taskRunEvent({ taskRunId: fresh, flowRunId, type: 'FAILED', occurred: at(5_000_000) }),
      lifecycles[0][2],
    ]);
    await expectExact();
  });

  it('should follow plain SQL too: multi-row updates, NULL state types, upserts', async () => {
    await ds.query(`UPDATE task_run SET state_type = NULL, state_name = NULL WHERE state_type = 'CRASHED'`);
    await ds.query(`UPDATE task_run SET state_type = 'CANCELLED' WHERE state_type = 'FAILED'`);
    await expectExact();
    const [{ id }] = await ds.query<{ id: string }[]>(`SELECT id FROM task_run LIMIT 1`);
    await ds.query(
      `INSERT INTO task_run (id, name, task_key, dynamic_key, state_type)
       VALUES ($1, 'x', 'x', 'x', 'PAUSED'), (gen_random_uuid(), 'y', 'y', 'y', 'PAUSED')
       ON CONFLICT (id) DO UPDATE SET state_type = excluded.state_type`,
      [id],
    );
    await expectExact();
  });

  it('should stay exact while folds race writers and each other', async () => {
    const flowRunId = await insertFlowRun(ds);
    let writing = true;
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const run = await createTaskRun(t.baseUrl, {
          flow_run_id: w % 2 ? flowRunId : null,
          state: { type: 'PENDING' },
        });
        await setState(run.id, i % 2 ? 'RUNNING' : 'FAILED').expect(201);
        if (i % 5 === 4) {
          await api().delete(`/api/task_runs/${run.id}`).expect(204);
        }
      }
    });
    let folding = true;
    let batches = 0;
    const folders = Array.from({ length: 3 }, async () => {
      while (folding) {
        const { removed } = await repo.compactCountDeltas(20, 0);
        batches += removed > 0 ? 1 : 0;
        await counts.fold();
      }
    });
    const checks: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      checks.push(expectSnapshotExact());
      await new Promise((r) => setTimeout(r, 50));
    }
    writing = false;
    await Promise.all(writers);
    folding = false;
    await Promise.all(folders);
    await Promise.all(checks);
    expect(batches).toBeGreaterThan(0);
    await expectExact();

    // The service leaves a short table; a fold of everything leaves one row per state type (and NULL) at most.
    await counts.fold();
    expect(await deltaRows()).toBeLessThanOrEqual(FOLDED_ROWS);
    await repo.compactCountDeltas(1000, 0);
    expect(await deltaRows()).toBeLessThanOrEqual(STATE_TYPES.length + 1);
    await expectExact();
  });

  it('should count in SQL a filter that is more than a state type (here: runs of a flow run only)', async () => {
    let differs = false;
    for (const scope of SCOPES) {
      const [{ n }] = await ds.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM task_run
          WHERE flow_run_id IS NOT NULL AND ($1::state_type[] IS NULL OR state_type = ANY($1::state_type[]))`,
        [scope],
      );
      // `flow_runs: {}` drops the runs without a flow run (docs/reference.md §1.8), so the maintained count is wrong
      // for it: it must not be used.
      expect({ scope, count: await apiCount(scope, { flow_runs: {} }) }).toEqual({ scope, count: n });
      differs ||= n !== (await tableCount(scope));
    }
    expect(differs).toBe(true);
  });

  it('should empty the counts when task_run is truncated', async () => {
    expect(await apiCount(null)).toBeGreaterThan(0);
    await ds.query(`TRUNCATE task_run CASCADE`);
    await expectExact();
    expect(await apiCount(null)).toBe(0);
  });
});

describe('the TaskRunCountDeltas migration', () => {
  it('should start the counts from the rows already there, and revert cleanly', async () => {
    const url = await createTestDatabase();
    const ds = await new DataSource(dataSourceOptions({ url, poolSize: 1 })).initialize();
    try {
      // Back to the schema before TaskRunCountDeltas (and any migration after it).
      const undo = async (): Promise<void> => {
        const [{ n }] = await ds.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM migrations WHERE timestamp >= 1764300015000`,
        );
        for (let i = 0; i < n; i++) {
          await ds.undoLastMigration({ transaction: 'each' });
        }
      };
      await undo();
      await ds.query(
        `INSERT INTO task_run (name, task_key, dynamic_key, state_type)
         SELECT 'r' || g, 'k', g::text, (ARRAY['COMPLETED','FAILED',NULL,'RUNNING']::state_type[])[1 + g % 4]
           FROM generate_series(1, 103) g`,
      );
      await ds.runMigrations({ transaction: 'each' });
      const rows = await ds.query<{ state_type: string | null; n: number }[]>(
        `SELECT state_type, sum(delta)::int AS n FROM task_run_count_delta GROUP BY state_type`,
      );
      expect(rows).toHaveLength(4);
      expect(rows).toEqual(
        expect.arrayContaining([
          { state_type: 'COMPLETED', n: 25 },
          { state_type: 'FAILED', n: 26 },
          { state_type: 'RUNNING', n: 26 },
          { state_type: null, n: 26 },
        ]),
      );
      await undo();
      const [{ n }] = await ds.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname LIKE 'task_run_count_%'`,
      );
      expect(n).toBe(0);
      await ds.query(`INSERT INTO task_run (name, task_key, dynamic_key) VALUES ('after', 'k', 'after')`);
    } finally {
      await ds.destroy();
    }
  });
});
