/**
 * Server CPU time per request (docs/performance.md): the server's user + system time from /proc around a fixed
 * number of requests at concurrency 32, for `GET /api/health`, `POST /api/task_runs/` and
 * `POST /api/task_runs/{id}/set_state` (RUNNING then COMPLETED). CPU time per request moves far less with the
 * machine's load than requests per second do, so it is the figure to compare A/B on a shared machine.
 *
 *   flock /tmp/bench.lock node -r @swc-node/register bench/server-cpu.ts          # BENCH_REQUESTS=5000
 *   BENCH_CPU_PROF=/tmp/prof …   # also a CPU profile of the server per phase: …-1 creates, …-2 state changes
 *   node -r @swc-node/register bench/cpu-prof-summary.ts /tmp/prof/server-<pid>-1.cpuprofile
 *
 * Linux only (/proc/<pid>/stat). The server runs from the sources through @swc-node/register, as in the other
 * benches.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { startServer } from '../test/utils/server-process';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL, newRunId } from '../test/utils/test-database';
import { processCpuMs } from './process-stats';
import { profilingEnv } from './profile';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5000);
const CONCURRENCY = 32;

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

/** User + system CPU time of a process, in ms (the server must be alive: it is measured around its work). */
function cpuMs(pid: number): number {
  const ms = processCpuMs(pid);
  if (ms === undefined) {
    throw new Error(`cannot read /proc/${pid}/stat`);
  }
  return ms;
}

function request(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const data = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent,
        headers: data
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function load(n: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        await op(next++);
      }
    }),
  );
}

const PROFILE_DIR = process.env.BENCH_CPU_PROF;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * With BENCH_CPU_PROF, starts the server's profiler (bench/cpu-prof-hook.ts, toggle mode) and returns the stop
 * function, which resolves once the profile is written; else a no-op.
 */
async function profilePhase(pid: number, phase: number): Promise<() => Promise<void>> {
  if (!PROFILE_DIR) {
    return () => Promise.resolve();
  }
  process.kill(pid, 'SIGUSR2');
  await sleep(200);
  return async () => {
    process.kill(pid, 'SIGUSR2');
    const file = `${PROFILE_DIR}/server-${pid}-${phase}.cpuprofile`;
    for (let i = 0; i < 100 && !existsSync(file); i++) {
      await sleep(100);
    }
    process.stderr.write(`profile: ${file}\n`);
  };
}

/** Server CPU ms per request of `requests` requests made by `run` (profiled as `phase` with BENCH_CPU_PROF). */
async function measure(
  pid: number,
  requests: number,
  run: () => Promise<void>,
  phase?: number,
): Promise<number> {
  const stop = phase ? await profilePhase(pid, phase) : undefined;
  const before = cpuMs(pid);
  await run();
  const ms = (cpuMs(pid) - before) / requests;
  await stop?.();
  return ms;
}

async function main(): Promise<void> {
  const dbName = `${newRunId()}_bench_server_cpu`;
  const databaseUrl = await createMigratedDatabase(DEFAULT_ADMIN_URL, dbName);
  const app = await startServer({
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(CONCURRENCY),
    DATABASE_MIGRATE_ON_START: 'false',
    ...(PROFILE_DIR ? profilingEnv(PROFILE_DIR) : {}),
  });
  const pid = app.child.pid!;
  const port = Number(new URL(app.baseUrl).port);
  const expect = (r: { status: number; text: string }, status: number): void => {
    if (r.status !== status) {
      throw new Error(`answered ${r.status}: ${r.text}`);
    }
  };
  try {
    const loadBefore = os.loadavg()[0];
    // Warm-up: JIT, prepared statements, pools.
    await load(500, async (i) => {
      expect(
        await request(port, 'POST', '/api/task_runs/', { task_key: 'warm', dynamic_key: String(i) }),
        201,
      );
      expect(await request(port, 'GET', '/api/health'), 200);
    });
    const health = await measure(pid, REQUESTS, () =>
      load(REQUESTS, async () => expect(await request(port, 'GET', '/api/health'), 200)),
    );
    const ids: string[] = [];
    const create = await measure(
      pid,
      REQUESTS,
      () =>
        load(REQUESTS, async (i) => {
          const r = await request(port, 'POST', '/api/task_runs/', {
            task_key: 'cpu',
            dynamic_key: String(i),
            tags: ['bench'],
          });
          expect(r, 201);
          ids.push((JSON.parse(r.text) as { id: string }).id);
        }),
      1,
    );
    const setState = await measure(
      pid,
      2 * REQUESTS,
      () =>
        load(REQUESTS, async (i) => {
          expect(
            await request(port, 'POST', `/api/task_runs/${ids[i]}/set_state`, { state: { type: 'RUNNING' } }),
            201,
          );
          expect(
            await request(port, 'POST', `/api/task_runs/${ids[i]}/set_state`, {
              state: { type: 'COMPLETED' },
            }),
            201,
          );
        }),
      2,
    );
    const out = (name: string, value: number, unit: string): boolean =>
      process.stdout.write(`${name}: ${value.toFixed(3)} ${unit}\n`);
    process.stdout.write(`server-cpu bench: ${REQUESTS} requests per route, concurrency ${CONCURRENCY}\n`);
    out('cpu_ms_per_health', health, 'ms');
    out('cpu_ms_per_create', create, 'ms');
    out('cpu_ms_per_set_state', setState, 'ms');
    out('create_cpu_vs_health', create / health, 'ratio');
    process.stdout.write(
      `load average: ${loadBefore.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end\n`,
    );
  } finally {
    agent.destroy();
    await app.stop();
    await adminQuery(DEFAULT_ADMIN_URL, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
