/**
 * Task-runs API benchmark (issues 3 and 12; docs/performance.md).
 *
 *   node -r @swc-node/register bench/task-runs.bench.ts
 *   BENCH_ROWS=1000000 node -r @swc-node/register bench/task-runs.bench.ts   # the full 1M-row target
 *   BENCH_PHASES=writes …    # creates and set_state only (no seeding, no queries); =queries: the opposite
 *   BENCH_PHASES=sequential …  # one request at a time: the latency floor of each route (comma-separate phases)
 *   BENCH_PROFILE=always …   # profile every write phase (default `missed`: only a phase that missed a goal; `never`)
 *   BENCH_CPU_PROF=/tmp/prof …  # keep those profiles (.cpuprofile, one per profiled phase) in that directory
 *
 * On a fresh database on the local PostgreSQL server (TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432),
 * with the real server in a child process on a free port (as in production; the load generator is this process):
 *  0. One request at a time (no concurrency, no queueing), first, on the fresh tables: p50/p99 of GET /api/health,
 *     a create, a state change, and of the raw pg baselines of 1 and 2 sent one at a time: the latency floor of
 *     each route on this machine.
 *  1. GET /api/health at concurrency 32: the HTTP ceiling of this server on this machine (same run).
 *     POST /task_runs/ at concurrency 32: creates/s, p50, p99. Baselines: the same rows by raw pg INSERT
 *     (task_run + its Pending task_run_state, one transaction each) at concurrency 32, and the HTTP ceiling.
 *  2. set_state RUNNING → COMPLETED at concurrency 32: transitions/s. Baseline: raw pg (lock row, insert state,
 *     update run) per transition.
 *  3. /filter and /count p99 on a table seeded with BENCH_ROWS rows (one INSERT … SELECT generate_series),
 *     over a mix of typical filters and sorts. Baseline: raw pg `SELECT … ORDER BY id DESC LIMIT 200` and
 *     `count(*)`.
 * Figures are medians of BENCH_REPS (≥ 3) repetitions; each phase is bounded (BENCH_SECONDS per repetition).
 * Each target prints a `goal` line, MET or NOT MET. A write phase that missed one is run once more with the
 * server's CPU profiler on, and the bench prints that profile's summary (bench/profile.ts): where the server's
 * time went. docs/performance.md says what would close the rest.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { Pool } from 'pg';
import { startServer } from '../test/utils/server-process';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL, newRunId } from '../test/utils/test-database';
import { processRssMb } from './process-stats';
import { goal, printProfile, profileChild, profilingEnv } from './profile';
import { seedTaskRuns } from './seed-task-runs';

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const REPS = Math.max(3, Number(process.env.BENCH_REPS ?? 3));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CONCURRENCY = 32;
const QUERY_SAMPLES = Number(process.env.BENCH_QUERY_SAMPLES ?? 40);
const SEQUENTIAL_SAMPLES = Number(process.env.BENCH_SEQUENTIAL_SAMPLES ?? 200);
/** When to profile a write phase: `missed` (a goal of the phase was not met; default), `always`, `never`. */
const PROFILE = process.env.BENCH_PROFILE ?? 'missed';
/** The phases to run: `writes`, `sequential`, `queries` (comma-separated; all by default). */
const PHASES = new Set(
  (process.env.BENCH_PHASES ?? 'writes,sequential,queries').split(',').map((p) => p.trim()),
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const line = (name: string, value: number, unit: string, digits = unit === 'ratio' ? 2 : 1) =>
  process.stdout.write(`${name}: ${value.toFixed(digits)} ${unit}\n`);
const loadavg = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const progress = (msg: string) => process.stderr.write(`[task-runs bench] ${msg}\n`);

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function post(
  baseUrl: string,
  path: string,
  body: unknown,
  method = 'POST',
): Promise<{ status: number; body: unknown; ms: number }> {
  const url = new URL(path, baseUrl);
  const data = method === 'GET' ? '' : JSON.stringify(body);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        agent,
        headers:
          method === 'GET'
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : null, ms });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Runs `op(i)` from `concurrency` workers until `seconds` pass; returns per-op latencies (ms) and elapsed s. */
async function load(
  concurrency: number,
  seconds: number,
  op: (i: number) => Promise<number>,
  maxOps = Infinity,
): Promise<{ latencies: number[]; elapsed: number }> {
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline && next < maxOps) {
        latencies.push(await op(next++));
      }
    }),
  );
  return { latencies, elapsed: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** Resident set size of the server process in MB (Linux /proc), or NaN. */
const serverRss = (pid: number | undefined): number =>
  (pid === undefined ? undefined : processRssMb(pid)) ?? NaN;

/** One create through the API, as the write phases send it (tagged, so the tag-limit probe runs). */
async function apiCreate(
  base: string,
  taskKey: string,
  dynamicKey: string,
): Promise<{ id: string; ms: number }> {
  const r = await post(base, '/api/task_runs/', {
    task_key: taskKey,
    dynamic_key: dynamicKey,
    tags: ['bench'],
  });
  if (r.status !== 201) {
    throw new Error(`create answered ${r.status}: ${JSON.stringify(r.body)}`);
  }
  return { id: (r.body as { id: string }).id, ms: r.ms };
}

/** RUNNING then COMPLETED on one run through the API; the mean latency of the two state changes, ms. */
async function apiRunToCompletion(base: string, id: string): Promise<number> {
  const r1 = await post(base, `/api/task_runs/${id}/set_state`, { state: { type: 'RUNNING' } });
  const r2 = await post(base, `/api/task_runs/${id}/set_state`, { state: { type: 'COMPLETED' } });
  if (r1.status !== 201 || r2.status !== 201) {
    throw new Error(`set_state answered ${r1.status}/${r2.status}`);
  }
  return (r1.ms + r2.ms) / 2;
}

/** One raw create as the concurrent baseline writes it: the run and its Pending state in one transaction. */
async function rawCreate(pool: Pool, taskKey: string, dynamicKey: string): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const id = randomUUID();
    await client.query(
      `INSERT INTO task_run (id, name, task_key, dynamic_key, tags, labels, empirical_policy, state_type, state_name)
       VALUES ($1, 'raw', $2, $3, '["bench"]', '{}', '{}', 'PENDING', 'Pending')`,
      [id, taskKey, dynamicKey],
    );
    await client.query(
      `INSERT INTO task_run_state (task_run_id, type, name) VALUES ($1, 'PENDING', 'Pending')`,
      [id],
    );
    await client.query('COMMIT');
    return id;
  } finally {
    client.release();
  }
}

/** One raw transition as the concurrent baseline writes it: lock the row, insert the state, update the run. */
async function rawTransition(pool: Pool, id: string, type: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT id FROM task_run WHERE id = $1 FOR UPDATE`, [id]);
    const s = await client.query<{ id: string }>(
      `INSERT INTO task_run_state (task_run_id, type, name, timestamp) VALUES ($1, $2::state_type, $2::text, clock_timestamp()) RETURNING id`,
      [id, type],
    );
    await client.query(`UPDATE task_run SET state_id = $2, state_type = $3::state_type WHERE id = $1`, [
      id,
      s.rows[0].id,
      type,
    ]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/**
 * Phase 0: every kind of request sent one at a time (no other request in flight, so no group forms and nothing
 * queues): what one request costs end to end, the floor under the concurrent figures' latencies and under the
 * delivery bench's create → receipt time. Informational: no goal is attached to these figures.
 */
async function sequentialPhase(base: string, pool: Pool): Promise<void> {
  const kinds = ['health', 'create', 'set_state', 'raw_create', 'raw_transition'] as const;
  const p50: Record<(typeof kinds)[number], number[]> = {
    health: [],
    create: [],
    set_state: [],
    raw_create: [],
    raw_transition: [],
  };
  const p99 = structuredClone(p50);
  const timed = async (op: () => Promise<unknown>): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await op();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let rep = 0; rep < REPS; rep++) {
    progress(`one request at a time: repetition ${rep + 1}/${REPS} (load average ${loadavg()})`);
    const samples: Record<(typeof kinds)[number], number[]> = {
      health: [],
      create: [],
      set_state: [],
      raw_create: [],
      raw_transition: [],
    };
    const ids: string[] = [];
    const rawIds: string[] = [];
    for (let i = 0; i < SEQUENTIAL_SAMPLES; i++) {
      samples.health.push(
        await timed(async () => {
          if ((await post(base, '/api/health', null, 'GET')).status !== 200) {
            throw new Error('health failed');
          }
        }),
      );
      samples.create.push(
        await timed(async () => ids.push((await apiCreate(base, `seq-${rep}`, String(i))).id)),
      );
      samples.raw_create.push(
        await timed(async () => rawIds.push(await rawCreate(pool, `raw-seq-${rep}`, String(i)))),
      );
    }
    for (let i = 0; i < SEQUENTIAL_SAMPLES; i++) {
      samples.set_state.push(
        await timed(async () => {
          const r = await post(base, `/api/task_runs/${ids[i]}/set_state`, { state: { type: 'RUNNING' } });
          if (r.status !== 201) {
            throw new Error(`set_state answered ${r.status}`);
          }
        }),
      );
      samples.raw_transition.push(await timed(() => rawTransition(pool, rawIds[i], 'RUNNING')));
    }
    for (const kind of kinds) {
      p50[kind].push(pct(samples[kind], 50));
      p99[kind].push(pct(samples[kind], 99));
    }
  }
  for (const kind of kinds) {
    line(`sequential_${kind}_p50`, median(p50[kind]), 'ms', 2);
    line(`sequential_${kind}_p99`, median(p99[kind]), 'ms', 2);
  }
  line('sequential_create_vs_raw_create_p50', median(p50.create) / median(p50.raw_create), 'ratio');
  line(
    'sequential_set_state_vs_raw_transition_p50',
    median(p50.set_state) / median(p50.raw_transition),
    'ratio',
  );
}

async function main(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const dbName = `${newRunId()}_bench_task_runs`;
  const databaseUrl = await createMigratedDatabase(adminUrl, dbName);
  // The server runs in its own process, as in production: in this process it would share one event loop (and
  // one core) with the load generator. Its profiler is idle until a phase is profiled (bench/profile.ts).
  const profiling = PROFILE === 'never' ? {} : profilingEnv(process.env.BENCH_CPU_PROF);
  const profiled = async (
    phase: string,
    missed: boolean,
    closing: string,
    work: () => Promise<unknown>,
  ): Promise<void> => {
    if (PROFILE === 'never' || (PROFILE === 'missed' && !missed)) {
      return;
    }
    progress(`${phase}: one more repetition with the server's CPU profiler on`);
    try {
      const profile = await profileChild(app.child.pid!, profiling, work);
      printProfile(
        `profile of the server during ${phase} (one extra repetition, ${missed ? 'a goal was not met' : 'BENCH_PROFILE=always'}):`,
        profile,
        `${closing} (docs/performance.md, "Where the remaining time goes")`,
      );
    } catch (err) {
      // A diagnostic that failed must not cost the figures printed above.
      process.stdout.write(
        `# profile of ${phase} unavailable: ${err instanceof Error ? err.message : String(err)}\n`,
      );
    }
  };
  const app = await startServer({
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(CONCURRENCY),
    DATABASE_MIGRATE_ON_START: 'false',
    ...profiling,
  }).catch(async (err: unknown) => {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    throw err;
  });
  const pool = new Pool({ connectionString: databaseUrl, max: CONCURRENCY });
  const base = app.baseUrl;
  try {
    process.stdout.write(
      `task-runs bench: ${ROWS} seeded rows, ${REPS} reps of ${SECONDS} s, concurrency ${CONCURRENCY}, ` +
        `${os.cpus().length} cpus, load average ${loadavg()}\n`,
    );

    line('server_rss_idle', serverRss(app.child.pid), 'MB');

    // ---------------------------------------------------------------- 0. one request at a time
    // First, on the fresh tables: after the concurrent phases the raw baseline's sequential transactions measured
    // 4-5x slower (1.1 -> 4.8 ms p50) while the API's did not move, which would flatter the API.
    if (PHASES.has('sequential')) {
      await sequentialPhase(base, pool);
    }

    if (PHASES.has('writes')) {
      // ---------------------------------------------------------------- 1. creates
      const createRates: number[] = [];
      const createP50: number[] = [];
      const createP99: number[] = [];
      const baseRates: number[] = [];
      const createdIds: string[] = [];
      const healthRates: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        progress(`creates: repetition ${rep + 1}/${REPS} (load average ${loadavg()})`);
        const health = await load(CONCURRENCY, SECONDS, async () => {
          const r = await post(base, '/api/health', null, 'GET');
          if (r.status !== 200) {
            throw new Error(`health answered ${r.status}`);
          }
          return r.ms;
        });
        healthRates.push(health.latencies.length / health.elapsed);
        const api = await load(CONCURRENCY, SECONDS, async (i) => {
          const { id, ms } = await apiCreate(base, `bench-${rep}`, String(i));
          createdIds.push(id);
          return ms;
        });
        createRates.push(api.latencies.length / api.elapsed);
        createP50.push(pct(api.latencies, 50));
        createP99.push(pct(api.latencies, 99));
        const raw = await load(CONCURRENCY, SECONDS, async (i) => {
          const t0 = process.hrtime.bigint();
          await rawCreate(pool, `raw-${rep}`, String(i));
          return Number(process.hrtime.bigint() - t0) / 1e6;
        });
        baseRates.push(raw.latencies.length / raw.elapsed);
      }
      line('creates_per_s', median(createRates), 'ops/s');
      line('create_p50', median(createP50), 'ms');
      line('create_p99', median(createP99), 'ms');
      line('baseline_raw_insert_per_s', median(baseRates), 'ops/s');
      line('baseline_health_per_s', median(healthRates), 'ops/s');
      line('creates_vs_raw_insert', median(createRates) / median(baseRates), 'ratio');
      line('creates_vs_health', median(createRates) / median(healthRates), 'ratio');
      const createGoals = [
        goal('creates_vs_raw_insert', median(createRates) / median(baseRates), '>=', 1.0),
        goal('creates_vs_health', median(createRates) / median(healthRates), '>=', 0.5),
        goal('create_p99_ms', median(createP99), '<=', 25),
      ];

      // ---------------------------------------------------------------- 2. set_state transitions
      const transitionRates: number[] = [];
      const transitionP99: number[] = [];
      const baseTransitionRates: number[] = [];
      let cursor = 0;
      for (let rep = 0; rep < REPS; rep++) {
        progress(`set_state: repetition ${rep + 1}/${REPS} (load average ${loadavg()})`);
        const api = await load(
          CONCURRENCY,
          SECONDS,
          () => apiRunToCompletion(base, createdIds[cursor++]),
          Math.floor((createdIds.length * (rep + 1)) / REPS) - cursor,
        );
        transitionRates.push((api.latencies.length * 2) / api.elapsed);
        transitionP99.push(pct(api.latencies, 99));
        const rawIds: string[] = (
          await pool.query(
            `SELECT id FROM task_run WHERE name = 'raw' AND state_type = 'PENDING' LIMIT 20000`,
          )
        ).rows.map((r: { id: string }) => r.id);
        let rawCursor = 0;
        const raw = await load(
          CONCURRENCY,
          SECONDS,
          async () => {
            const id = rawIds[rawCursor++];
            const t0 = process.hrtime.bigint();
            for (const type of ['RUNNING', 'COMPLETED']) {
              await rawTransition(pool, id, type);
            }
            return Number(process.hrtime.bigint() - t0) / 2e6;
          },
          rawIds.length,
        );
        baseTransitionRates.push((raw.latencies.length * 2) / raw.elapsed);
      }
      line('set_state_transitions_per_s', median(transitionRates), 'ops/s');
      line('set_state_p99', median(transitionP99), 'ms');
      line('baseline_raw_transitions_per_s', median(baseTransitionRates), 'ops/s');
      line('transitions_vs_raw', median(transitionRates) / median(baseTransitionRates), 'ratio');
      const transitionGoals = [
        goal('transitions_vs_raw', median(transitionRates) / median(baseTransitionRates), '>=', 1.0),
        goal('set_state_p99_ms', median(transitionP99), '<=', 30),
      ];
      const rssAfter = serverRss(app.child.pid);
      line('server_rss_after_writes', rssAfter, 'MB');
      // Through swc, which holds the compiler: the built server is ~95 MB smaller (bench/server-rss.ts).
      goal('server_rss_after_writes_mb', rssAfter, '<=', 400);
      process.stdout.write(`load average after the writes: ${loadavg()}\n`);

      // Where the time went, for a phase that missed a goal: one more repetition each, under the profiler, after
      // every figure above was taken (the profiler's samples and the extra rows touch none of them).
      await profiled(
        'POST /task_runs/ at concurrency 32',
        createGoals.includes(false),
        'what would close it: a core of its own for the server (PostgreSQL and the raw baseline share these two), fewer objects per create (GC), fewer framework layers per request',
        () =>
          load(CONCURRENCY, SECONDS, async (i) => (await apiCreate(base, 'bench-profiled', String(i))).ms),
      );
      if (PROFILE === 'always' || transitionGoals.includes(false)) {
        // Fresh Pending runs for the profiled repetition (the measured ones used every API-created run).
        const fresh: string[] = [];
        await load(CONCURRENCY, SECONDS, async (i) => {
          fresh.push(await rawCreate(pool, 'bench-profiled-set-state', String(i)));
          return 0;
        });
        let next = 0;
        await profiled(
          'set_state RUNNING → COMPLETED at concurrency 32',
          transitionGoals.includes(false),
          "what would close it: a core of its own for the server (the statements' writev includes waiting for it), a slot probe that PostgreSQL plans more cheaply (0.24 ms a group)",
          () => load(CONCURRENCY, SECONDS, () => apiRunToCompletion(base, fresh[next++]), fresh.length),
        );
      }
    }

    // ---------------------------------------------------------------- 3. /filter and /count on a seeded table
    if (!PHASES.has('queries')) {
      return;
    }
    const seedStarted = Date.now();
    await seedTaskRuns(pool, ROWS, progress);
    line('seed_seconds', (Date.now() - seedStarted) / 1000, 's');

    const since = new Date(Date.now() - 3600_000).toISOString();
    const someFlowRuns = ['00000000-0000-4000-8000-000000000007', '00000000-0000-4000-8000-000000000042'];
    const filters: Record<string, unknown>[] = [
      {},
      { sort: 'EXPECTED_START_TIME_DESC', task_runs: { state: { type: { any_: ['COMPLETED'] } } } },
      { sort: 'EXPECTED_START_TIME_ASC', flow_runs: { id: { any_: someFlowRuns } } },
      {
        sort: 'END_TIME_DESC',
        task_runs: { start_time: { after_: since }, state: { type: { any_: ['FAILED', 'CRASHED'] } } },
      },
      { sort: 'NAME_ASC', task_runs: { name: { like_: 'seed-ab' } } },
      { task_runs: { tags: { all_: ['etl'] }, flow_run_id: { is_null_: true } }, limit: 50 },
      { sort: 'NEXT_SCHEDULED_START_TIME_ASC', task_runs: { state: { type: { any_: ['SCHEDULED'] } } } },
      { flow_runs: { state: { type: { any_: ['RUNNING'] } } }, limit: 100 },
      // Every sort, unfiltered and with a state filter.
      ...[
        'ID_DESC',
        'EXPECTED_START_TIME_ASC',
        'EXPECTED_START_TIME_DESC',
        'NAME_ASC',
        'NAME_DESC',
        'NEXT_SCHEDULED_START_TIME_ASC',
        'END_TIME_DESC',
      ].flatMap((sort) => [{ sort }, { sort, task_runs: { state: { type: { any_: ['FAILED'] } } } }]),
    ];
    const counts: Record<string, unknown>[] = [
      {},
      { task_runs: { state: { type: { any_: ['COMPLETED'] } } } },
      { flow_runs: { id: { any_: someFlowRuns } } },
      { task_runs: { start_time: { after_: since } } },
    ];
    /**
     * p99 over every body (QUERY_SAMPLES per repetition); prints the slowest bodies' medians, and the bodies of the
     * slowest single requests with all their samples (with 66 samples a repetition's p99 is its slowest request).
     */
    const measure = async (path: string, bodies: Record<string, unknown>[]) => {
      const p99s: number[] = [];
      const perBody = bodies.map(() => [] as number[]);
      for (let rep = 0; rep < REPS; rep++) {
        progress(`${path}: repetition ${rep + 1}/${REPS} (load average ${loadavg()})`);
        const samples: number[] = [];
        const n = Math.max(QUERY_SAMPLES, bodies.length * 3);
        for (let i = 0; i < n; i++) {
          const r = await post(base, path, bodies[i % bodies.length]);
          if (r.status !== 200) {
            throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
          }
          samples.push(r.ms);
          perBody[i % bodies.length].push(r.ms);
        }
        p99s.push(pct(samples, 99));
      }
      perBody
        .map((ms, i) => ({ ms, max: Math.max(...ms), body: JSON.stringify(bodies[i]) }))
        .sort((a, b) => b.max - a.max)
        .slice(0, 3)
        .forEach((x) =>
          process.stdout.write(
            `  slowest request ${path}: ${x.max.toFixed(1)} ms, all samples ${x.ms.map((v) => v.toFixed(0)).join(' ')} ${x.body}\n`,
          ),
        );
      perBody
        .map((ms, i) => ({ ms: median(ms), body: JSON.stringify(bodies[i]) }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3)
        .forEach((x) => process.stdout.write(`  slowest ${path}: median ${x.ms.toFixed(1)} ms ${x.body}\n`));
      return median(p99s);
    };
    const rawMeasure = async (sql: string) => {
      const p99s: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const samples: number[] = [];
        for (let i = 0; i < QUERY_SAMPLES; i++) {
          const t0 = process.hrtime.bigint();
          await pool.query(sql);
          samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        p99s.push(pct(samples, 99));
      }
      return median(p99s);
    };
    const filterP99 = await measure('/api/task_runs/filter', filters);
    const countP99 = await measure('/api/task_runs/count', counts);
    const rawFilterP99 = await rawMeasure(`SELECT * FROM task_run ORDER BY id DESC LIMIT 200`);
    const rawCountP99 = await rawMeasure(`SELECT count(*) FROM task_run`);
    line('filter_p99', filterP99, 'ms');
    line('count_p99', countP99, 'ms');
    line('baseline_raw_select_p99', rawFilterP99, 'ms');
    line('baseline_raw_count_p99', rawCountP99, 'ms');
    line('filter_vs_raw_select', filterP99 / rawFilterP99, 'ratio');
    line('count_vs_raw_count', countP99 / rawCountP99, 'ratio');
    const queryGoals = [goal('filter_p99_ms', filterP99, '<=', 50), goal('count_p99_ms', countP99, '<=', 50)];
    if (queryGoals.includes(false)) {
      // A query's time is PostgreSQL's: the slowest requests printed above are the profile that matters.
      process.stdout.write(
        '# where the time goes: the slowest requests above (per request and by median); their plans and what ' +
          'would close the rest: docs/performance.md, "Queries" and "Queries, second round"\n',
      );
    }
    line('server_rss_end', serverRss(app.child.pid), 'MB');
    process.stdout.write(`load average at end: ${loadavg()}\n`);
  } finally {
    agent.destroy();
    if (profiling.BENCH_CPU_PROF && !process.env.BENCH_CPU_PROF) {
      rmSync(profiling.BENCH_CPU_PROF, { recursive: true, force: true });
    }
    await pool.end();
    await app.stop();
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
