/**
 * PostgreSQL frozen (every process SIGSTOPped: what a network partition or a hung host looks like to the
 * app, where nothing answers and no connection is refused). The suite owns its database: a real server
 * process started without DATABASE_URL runs its embedded PostgreSQL in a temporary directory, never the
 * shared server. The test freezes that postmaster and all its backends, checks that answers stay bounded,
 * then resumes them and checks that everything recovers by itself.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectEventually } from '../utils/expect-eventually';
import { ServerProcess, startServer } from '../utils/server-process';

/** The postmaster of `dataDir` and every process it forked (backends, background workers). */
/** Sends `signal`; false when the process has exited meanwhile (a backend of a closed connection, say). */
function signalIfAlive(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
      return false;
    }
    throw err;
  }
}

/**
 * Stops the postmaster first (so it forks no new backend), then every child it has; a child that exits between
 * the listing and its signal is skipped. Returns the stopped pids, to resume them.
 */
function freezePostgres(dataDir: string): number[] {
  const [postmaster] = postgresProcesses(dataDir);
  const stopped = signalIfAlive(postmaster, 'SIGSTOP') ? [postmaster] : [];
  for (const pid of postgresProcesses(dataDir).slice(1)) {
    if (signalIfAlive(pid, 'SIGSTOP')) {
      stopped.push(pid);
    }
  }
  return stopped;
}

function postgresProcesses(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) {
        children.push(Number(entry));
      }
    } catch {
      // exited meanwhile
    }
  }
  return [postmaster, ...children];
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = Date.now();
  const value = await fn();
  return { ms: Date.now() - started, value };
}

async function call(
  baseUrl: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? undefined : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

describe('PostgreSQL frozen (SIGSTOP) under a real server process', () => {
  let dir: string;
  let dataDir: string;
  let server: ServerProcess | undefined;
  let frozen: number[] = [];

  const thaw = (): void => {
    for (const pid of frozen) {
      signalIfAlive(pid, 'SIGCONT');
    }
    frozen = [];
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ptr-frozen-pg-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as the OS user `postgres`, which must traverse the path
    dataDir = join(dir, 'data');
    server = await startServer(
      {
        DATABASE_EMBEDDED_DIR: dataDir,
        DATABASE_QUERY_TIMEOUT: '2',
        DATABASE_CONNECT_TIMEOUT: '2',
        DATABASE_READINESS_TIMEOUT: '1',
        DATABASE_POOL_SIZE: '4',
        LOG_LEVEL: 'info',
      },
      150_000,
    );
  }, 180_000);

  afterAll(async () => {
    thaw();
    await server?.stop().catch(() => undefined); // stops its embedded PostgreSQL too
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('should answer 503 within seconds while frozen, keep /api/health instant, and recover by itself', async () => {
    const base = server!.baseUrl;
    const flow = await call(base, '/api/flows/', { method: 'POST', body: { name: 'frozen' } });
    expect(flow.status).toBe(201);
    const flowId = (flow.body as { id: string }).id;
    const run = await call(base, '/api/flow_runs/', { method: 'POST', body: { flow_id: flowId } });
    expect(run.status).toBe(201);
    const runId = (run.body as { id: string }).id;
    expect((await call(base, '/api/ready')).status).toBe(200);

    frozen = freezePostgres(dataDir);
    try {
      // Probes twice a second for 6 s, while reads and writes come in: the probes must not drain the pool.
      const probes = (async () => {
        const out: { ms: number; status: number; detail: unknown }[] = [];
        for (let i = 0; i < 12; i++) {
          const { ms, value } = await timed(() => call(base, '/api/ready'));
          out.push({ ms, status: value.status, detail: (value.body as { down?: string[] }).down?.[0] });
          await new Promise((r) => setTimeout(r, 500));
        }
        return out;
      })();
      const health = await timed(() => call(base, '/api/health'));
      expect({ status: health.value.status, instant: health.ms < 1000 }).toEqual({
        status: 200,
        instant: true,
      });

      const [read, write] = await Promise.all([
        timed(() => call(base, `/api/flow_runs/${runId}`)),
        timed(() => call(base, '/api/flows/', { method: 'POST', body: { name: 'during-freeze' } })),
      ]);
      // Bounded by the 2 s connection and query deadlines (a few of them in a row at most), never a hang.
      expect({ status: read.value.status, bounded: read.ms < 10_000 }).toEqual({
        status: 503,
        bounded: true,
      });
      expect({ status: write.value.status, bounded: write.ms < 10_000 }).toEqual({
        status: 503,
        bounded: true,
      });

      const probed = await probes;
      for (const p of probed) {
        expect({ status: p.status, within5s: p.ms < 5000 }).toEqual({ status: 503, within5s: true });
        expect(p.detail).toBe('database: no answer within 1000 ms'); // stable, no driver text
      }
      // After a dozen probes, requests still get a connection attempt of their own (pool not drained).
      const again = await timed(() => call(base, `/api/flow_runs/${runId}`));
      expect({ status: again.value.status, bounded: again.ms < 10_000 }).toEqual({
        status: 503,
        bounded: true,
      });
      const health2 = await timed(() => call(base, '/api/health'));
      expect({ status: health2.value.status, instant: health2.ms < 1000 }).toEqual({
        status: 200,
        instant: true,
      });
    } finally {
      thaw();
    }

    // Recovery by itself: readiness, reads and writes.
    await expectEventually(
      async () => {
        const ready = await call(base, '/api/ready');
        expect(ready.status).toBe(200);
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect((await call(base, `/api/flow_runs/${runId}`)).status).toBe(200);
    expect((await call(base, '/api/flows/', { method: 'POST', body: { name: 'after-freeze' } })).status).toBe(
      201,
    );
  }, 120_000);
});
