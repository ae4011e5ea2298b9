/**
 * The dashboard's requests on a big table (issue 14 budget: "Task runs view on 1M runs: a page of results in
 * ≤ 300 ms"). Seeds BENCH_DASHBOARD_ROWS task runs (default 1,000,000; one INSERT … SELECT generate_series,
 * secondary indexes rebuilt after), starts the real server in a child process, and times the exact bodies the
 * Task runs view sends for a page (POST /api/task_runs/filter, limit + 1 rows) and, separately, for its total
 * (POST /api/task_runs/count), for the default sort, a state filter, name, tags, flow run, a time window and
 * a deep page; then the overview's requests, and /paginate (one request for both) for comparison. Baseline in the same run: raw pg
 * `SELECT … ORDER BY expected_start_time DESC LIMIT 25` and `count(*)`. Medians of BENCH_REPS samples each.
 */
import { Pool } from 'pg';
import { startServer } from '../test/utils/server-process';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL, newRunId } from '../test/utils/test-database';
import { seedTaskRuns } from './seed-task-runs';

const ROWS = Number(process.env.BENCH_DASHBOARD_ROWS ?? 1_000_000);
const REPS = Math.max(3, Number(process.env.BENCH_REPS ?? 7));
const PAGE_BUDGET_MS = 300;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const log = (s: string): boolean => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const dbName = `${newRunId()}_dashboard_bench`;
  const url = await createMigratedDatabase(adminUrl, dbName);
  const pool = new Pool({ connectionString: url, max: 2 });
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const seedStarted = Date.now();
    log(`seeding ${ROWS} task runs…`);
    await seedTaskRuns(pool, ROWS, () => undefined);
    log(`seed_seconds: ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

    server = await startServer({ DATABASE_URL: url, SERVER_RUN_SERVICES: 'false', LOG_LEVEL: 'info' });
    const base = `${server.baseUrl}/api`;
    const time = async (method: string, path: string, body?: unknown): Promise<number> => {
      const t0 = performance.now();
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      const buf = await res.arrayBuffer();
      if (!res.ok) {
        throw new Error(
          `${method} ${path} answered ${res.status}: ${Buffer.from(buf).toString().slice(0, 300)}`,
        );
      }
      return performance.now() - t0;
    };
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    const dayAgo = new Date(Date.now() - 86_400_000).toISOString();
    const page = (extra: Record<string, unknown>) => ({
      sort: 'EXPECTED_START_TIME_DESC',
      limit: 26,
      offset: 0,
      ...extra,
    });
    // The bodies web/src/views/TaskRunsView.vue sends for these URLs.
    const taskRunsView: [string, unknown][] = [
      ['/task-runs', page({ task_runs: {} })],
      [
        '/task-runs?state=FAILED,CRASHED',
        page({ task_runs: { state: { type: { any_: ['FAILED', 'CRASHED'] } } } }),
      ],
      ['/task-runs?name=seed-ab', page({ task_runs: { name: { like_: 'seed-ab' } } })],
      ['/task-runs?tags=etl', page({ task_runs: { tags: { all_: ['etl'] } } })],
      [
        '/task-runs?flow_run=…07',
        page({ task_runs: { flow_run_id: { any_: ['00000000-0000-4000-8000-000000000007'] } } }),
      ],
      ['/task-runs?after=1h-ago', page({ task_runs: { expected_start_time: { after_: hourAgo } } })],
      ['/task-runs?sort=NAME_ASC&page=400', page({ sort: 'NAME_ASC', offset: 399 * 25, task_runs: {} })],
    ];
    const overview: [string, string, unknown][] = [
      ['POST', '/ui/task_runs/count', {}],
      [
        'POST',
        '/task_runs/history',
        { history_start: dayAgo, history_end: new Date().toISOString(), history_interval_seconds: 1800 },
      ],
      [
        'POST',
        '/task_runs/filter',
        {
          task_runs: { state: { type: { any_: ['FAILED', 'CRASHED'] } }, end_time: { after_: dayAgo } },
          sort: 'END_TIME_DESC',
          limit: 8,
        },
      ],
      [
        'POST',
        '/task_runs/count',
        { task_runs: { state: { type: { any_: ['FAILED', 'CRASHED'] } }, end_time: { after_: dayAgo } } },
      ],
    ];
    await time('POST', '/task_runs/filter', taskRunsView[0][1]); // warm-up

    const rawPage: number[] = [];
    const rawCount: number[] = [];
    for (let i = 0; i < REPS; i++) {
      let t0 = performance.now();
      await pool.query(`SELECT * FROM task_run ORDER BY expected_start_time DESC LIMIT 25`);
      rawPage.push(performance.now() - t0);
      t0 = performance.now();
      await pool.query(`SELECT count(*) FROM task_run`);
      rawCount.push(performance.now() - t0);
    }
    log(
      `baseline raw pg: page of 25 ${median(rawPage).toFixed(1)} ms, count(*) ${median(rawCount).toFixed(1)} ms`,
    );

    let worst = 0;
    for (const [view, body] of taskRunsView) {
      const rows: number[] = [];
      const counts: number[] = [];
      const paginate: number[] = [];
      const { sort, limit, offset, ...filters } = body as Record<string, unknown> & {
        limit: number;
        offset: number;
      };
      for (let i = 0; i < REPS; i++) {
        rows.push(await time('POST', '/task_runs/filter', body));
        counts.push(await time('POST', '/task_runs/count', filters));
        const paginateBody = { ...filters, sort, limit: limit - 1, page: offset / (limit - 1) + 1 };
        paginate.push(await time('POST', '/task_runs/paginate', paginateBody));
      }
      worst = Math.max(worst, median(rows));
      log(
        `${view}: page of rows ${median(rows).toFixed(1)} ms (${(median(rows) / median(rawPage)).toFixed(1)}× raw page), ` +
          `total ${median(counts).toFixed(1)} ms (${(median(counts) / median(rawCount)).toFixed(1)}× raw count), ` +
          `/paginate ${median(paginate).toFixed(1)} ms`,
      );
    }
    for (const [method, path, body] of overview) {
      const samples: number[] = [];
      for (let i = 0; i < REPS; i++) {
        samples.push(await time(method, path, body));
      }
      log(`overview ${path}: median ${median(samples).toFixed(1)} ms`);
    }
    log(
      `task runs view, worst median page of rows: ${worst.toFixed(1)} ms (budget ${PAGE_BUDGET_MS} ms: ${worst <= PAGE_BUDGET_MS ? 'met' : 'MISSED'})`,
    );
  } finally {
    await server?.stop();
    await pool.end();
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
