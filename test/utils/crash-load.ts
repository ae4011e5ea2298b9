/**
 * Crash tests' load: task-run lifecycles (Pending, Running, Completed) posted to `POST /api/events` by
 * concurrent clients, remembering exactly what was acknowledged (2xx), and the checks made after a SIGKILL
 * and a restart: every acknowledged event stored, every acknowledged task-run event recorded, newest state.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ReceivedEvent } from '../../src/events/event.types';
import { runLifecycle } from '../factories/task-run-event.factory';
import { expectEventually } from './expect-eventually';
import { ServerProcess, startApiReplica } from './processes';
import { createTestDatabase } from './test-database';

const STATES = ['PENDING', 'RUNNING', 'COMPLETED'] as const;

export interface LoadEvent {
  runId: string;
  /** 0 Pending, 1 Running, 2 Completed. */
  step: number;
  event: Omit<ReceivedEvent, 'received'>;
}

/**
 * `runs` lifecycles in waves of `wave` runs, so a batch mixes first, second and third events of different
 * runs and a run's events land in different batches (posted concurrently: they may commit out of order).
 */
export function taskRunStream(runs: number, wave = 50): LoadEvent[] {
  const lifecycles = Array.from({ length: runs }, (_, i) => {
    const runId = randomUUID();
    return runLifecycle(runId, null, i * 10, 'crash-task', String(i)).map((e, step) => {
      const { received: _received, ...event } = e;
      return { runId, step, event };
    });
  });
  const out: LoadEvent[] = [];
  const waves = Math.ceil(runs / wave);
  for (let w = 0; w < waves + 2; w++) {
    for (let step = 0; step < 3; step++) {
      const from = (w - step) * wave;
      if (from < 0 || from >= runs) {
        continue;
      }
      for (let i = from; i < Math.min(runs, from + wave); i++) {
        out.push(lifecycles[i][step]);
      }
    }
  }
  return out;
}

export interface LoadResult {
  acked: LoadEvent[];
  /** Batches sent and not acknowledged (their fate is unknown: they may or may not be stored). */
  unacked: number;
  /** 503 answers (only counted with `retryUnavailable`; each such batch was sent again). */
  unavailable: number;
}

/**
 * Posts `events` in batches of `batch`, `concurrency` requests at a time, until done or `stop()` says so;
 * a request that fails (the server died) ends its client. 429 is retried after its Retry-After; with
 * `retryUnavailable`, 503 too (as a client does while the database is away). Any other answer throws.
 */
export async function postEvents(
  baseUrl: string,
  events: LoadEvent[],
  {
    batch = 100,
    concurrency = 4,
    stop,
    retryUnavailable = false,
  }: { batch?: number; concurrency?: number; stop: () => boolean; retryUnavailable?: boolean },
): Promise<LoadResult> {
  const result: LoadResult = { acked: [], unacked: 0, unavailable: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!stop() && next < events.length) {
      const slice = events.slice(next, next + batch);
      next += batch;
      for (;;) {
        let status: number;
        try {
          const res = await fetch(`${baseUrl}/api/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(slice.map((e) => e.event)),
            signal: AbortSignal.timeout(20_000),
          });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          result.unacked += 1;
          return;
        }
        if (status >= 200 && status < 300) {
          result.acked.push(...slice);
          break;
        }
        if (status === 429 && !stop()) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        if (status === 503 && retryUnavailable) {
          result.unavailable += 1;
          if (stop()) {
            return;
          }
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        throw new Error(`POST /api/events answered ${status}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}

/** Polls pg_stat_activity until a statement of the app matching `pattern` (SQL LIKE) is running. */
export async function waitForStatement(
  databaseUrl: string,
  pattern: string,
  timeoutMs = 30_000,
): Promise<boolean> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const database = new URL(databaseUrl).pathname.slice(1);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await c.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()
           AND query LIKE $2 LIMIT 1`,
        [database, pattern],
      );
      if (rows.length) {
        return true;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return false;
  } finally {
    await c.end();
  }
}

export interface StoredCounts {
  events: number;
  states: number;
  /** Runs with an acknowledged event whose row is missing or older than the newest acknowledged state. */
  behind: string[];
}

/** What of `acked` the database holds: events rows, task_run_state rows (state id = event id), newest state. */
export async function storedCounts(databaseUrl: string, acked: LoadEvent[]): Promise<StoredCounts> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const ids = acked.map((a) => a.event.id);
    const events = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const states = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM task_run_state WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const newest = new Map<string, number>();
    for (const a of acked) {
      newest.set(a.runId, Math.max(newest.get(a.runId) ?? -1, a.step));
    }
    const runs = await c.query<{ id: string; state_type: string | null }>(
      `SELECT id, state_type FROM task_run WHERE id = ANY($1::uuid[])`,
      [[...newest.keys()]],
    );
    const stored = new Map(runs.rows.map((r) => [r.id, STATES.indexOf(r.state_type as never)]));
    const behind = [...newest].filter(([id, step]) => (stored.get(id) ?? -1) < step).map(([id]) => id);
    return { events: events.rows[0].n, states: states.rows[0].n, behind };
  } finally {
    await c.end();
  }
}

/**
 * The crash test itself, for any broker configuration: a server process takes a stream of task-run events from
 * 4 concurrent clients; once a good part is stored it is SIGKILLed exactly while a statement matching
 * `statement` runs (the persister's or the recorder's write); a second process on the same database must then
 * store and record every acknowledged event, newest state winning, within `recoveryTimeoutMs`. Counts are exact.
 * Started processes go into `processes`, for the caller's afterEach to stop.
 */
export async function expectNothingAckedLostAfterKill(options: {
  env: (databaseUrl: string) => Record<string, string>;
  statement: string;
  processes: ServerProcess[];
  recoveryTimeoutMs: number;
}): Promise<void> {
  const { env, statement, processes } = options;
  const databaseUrl = await createTestDatabase();
  const first = await startApiReplica('crash-first', env(databaseUrl));
  processes.push(first);
  // Large enough that writes are still under way when the threshold below is seen, on a fast quiet machine too.
  const stream = taskRunStream(4000);
  let killed = false;
  const load = postEvents(first.baseUrl, stream, { batch: 100, concurrency: 4, stop: () => killed });
  await expectEventually(
    async () => expect((await storedCounts(databaseUrl, stream)).events).toBeGreaterThan(800),
    { timeoutMs: 40_000, intervalMs: 100 },
  );
  const caught = await waitForStatement(databaseUrl, statement);
  await first.kill();
  killed = true;
  expect(caught).toBe(true);
  const { acked, unacked } = await load;
  expect(acked.length).toBeGreaterThan(0);
  expect(acked.length + unacked * 100).toBeLessThanOrEqual(stream.length);

  const second = await startApiReplica('crash-second', env(databaseUrl));
  processes.push(second);
  const counts = await expectEventually(
    async () => {
      const c = await storedCounts(databaseUrl, acked);
      expect(c.events).toBe(acked.length);
      expect(c.states).toBe(acked.length);
      expect(c.behind).toEqual([]);
      return c;
    },
    { timeoutMs: options.recoveryTimeoutMs, intervalMs: 200 },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- first:\n${first.output()}\n--- second:\n${second.output()}`);
  });
  expect(counts).toEqual({ events: acked.length, states: acked.length, behind: [] });
}
