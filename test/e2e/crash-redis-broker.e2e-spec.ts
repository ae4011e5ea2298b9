import { randomUUID } from 'node:crypto';
import {
  expectNothingAckedLostAfterKill,
  postEvents,
  storedCounts,
  taskRunStream,
} from '../utils/crash-load';
import { expectEventually } from '../utils/expect-eventually';
import { ServerProcess, startApiReplica } from '../utils/processes';
import { dropRedisStream } from '../utils/redis-stream';
import { createTestDatabase } from '../utils/test-database';

const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The same SIGKILL test with `PREFECT_SERVER_EVENTS_MESSAGING_BROKER=redis`: every event acknowledged before
 * the kill is stored and recorded after a restart, and the restarted process takes over what the dead one
 * left pending at once (liveness keys), not after the 30 s claim idle time: the check allows 20 s.
 */
describe('crash durability, redis broker', () => {
  const stream = `test:crash:${randomUUID()}`;
  afterAll(() => dropRedisStream(REDIS_URL, stream));
  const processes: ServerProcess[] = [];
  const env = (databaseUrl: string): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
    PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
    REDIS_URL,
    PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
    SERVER_RUN_SERVICES: 'true',
    DATABASE_MIGRATE_ON_START: 'false',
    // The factory's events occurred in January: retention must not delete them under the test's feet.
    PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.2',
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: '0.2',
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '200',
  });

  afterEach(async () => {
    for (const p of processes.splice(0)) {
      await p.kill();
    }
  });

  it.each([['the persister', '%INTO events%']])(
    'should keep every acknowledged event after SIGKILL during a write of %s',
    (_who, statement) =>
      expectNothingAckedLostAfterKill({ env, statement, processes, recoveryTimeoutMs: 20_000 }),
    120_000,
  );

  it('should answer /api/ready 503 while the restarted process drains the recovery backlog, then 200', async () => {
    const databaseUrl = await createTestDatabase();
    const base = {
      ...env(databaseUrl),
      PREFECT_SERVER_EVENTS_REDIS_STREAM: `test:crash:${randomUUID()}`,
      PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false',
    };
    // The first process takes the events into its persister but never writes them (no flush before the
    // kill): after the SIGKILL they are all pending for a dead consumer.
    const first = await startApiReplica('backlog-first', {
      ...base,
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '600',
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '100000',
    });
    processes.push(first);
    const stream = taskRunStream(4000);
    const { acked } = await postEvents(first.baseUrl, stream, {
      batch: 200,
      concurrency: 4,
      stop: () => false,
    });
    expect(acked).toHaveLength(stream.length);
    await first.kill();
    expect((await storedCounts(databaseUrl, acked)).events).toBe(0);

    // The restart: live at once, but not ready until the backlog is down to the persister's threshold
    // (max(1000, 2 × batch size), see watchCatchUp).
    const second = await startApiReplica(
      'backlog-second',
      { ...base, PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '50' },
      { until: 'live' },
    );
    processes.push(second);
    const seen: { status: number; down: string[]; storedAfter: number }[] = [];
    await expectEventually(
      async () => {
        const res = await fetch(`${second.baseUrl}/api/ready`);
        const body = (await res.json()) as { down?: string[] };
        const storedAfter = (await storedCounts(databaseUrl, acked)).events;
        seen.push({ status: res.status, down: body.down ?? [], storedAfter });
        expect(seen.some((s) => s.status === 503)).toBe(true);
        expect(res.status).toBe(200);
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const catchingUp = seen.filter((s) => s.status === 503);
    expect(catchingUp.some((s) => s.down.some((line) => /catching up: \d+ events behind/.test(line)))).toBe(
      true,
    );
    // Ready only once at most the threshold is left (stored is read just after the answer: lenient, never wrong).
    const firstReady = seen.find((s) => s.status === 200)!;
    expect(acked.length - firstReady.storedAfter).toBeLessThanOrEqual(1000);
    await expectEventually(
      async () => expect((await storedCounts(databaseUrl, acked)).events).toBe(acked.length),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }, 150_000);
});
