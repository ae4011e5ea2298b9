import { createTestDatabase } from '../utils/test-database';
import { expectEventually } from '../utils/expect-eventually';
import { ServerProcess, startApiReplica } from '../utils/processes';
import { postEvents, storedCounts, taskRunStream, waitForStatement } from '../utils/crash-load';

/**
 * SIGKILL on a real server process with the default configuration (no broker setting: the PostgreSQL event
 * log), in the middle of a stream of task-run events, exactly while the persister (or the recorder) is
 * writing a batch. After a restart on the same database, every event acknowledged before the kill is
 * stored and every acknowledged task-run event is recorded, newest state winning. Counts are exact.
 */
describe('crash durability, default broker', () => {
  const processes: ServerProcess[] = [];
  const env = (databaseUrl: string): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
    SERVER_RUN_SERVICES: 'true',
    DATABASE_MIGRATE_ON_START: 'false',
    // The factory's events occurred in January: retention must not delete them under the test's feet.
    PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.2',
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: '0.2',
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '200',
  });

  afterEach(async () => {
    for (const p of processes.splice(0)) await p.kill();
  });

  it.each([
    ['the persister', '%INTO events%'],
    ['the recorder', '%INTO task_run%'],
  ])(
    'should keep every acknowledged event after SIGKILL during a write of %s',
    async (_who, statement) => {
      const databaseUrl = await createTestDatabase();
      const first = await startApiReplica('crash-first', env(databaseUrl));
      processes.push(first);
      // Large enough that writes are still under way when the threshold below is seen, on a fast quiet machine too.
      const stream = taskRunStream(4000);
      let killed = false;
      const load = postEvents(first.baseUrl, stream, { batch: 100, concurrency: 4, stop: () => killed });
      // Let a good part go through, then kill exactly while the service writes a batch.
      await expectEventually(
        async () => expect((await storedCounts(databaseUrl, stream)).events).toBeGreaterThan(800),
        {
          timeoutMs: 40_000,
          intervalMs: 100,
        },
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
        { timeoutMs: 30_000, intervalMs: 200 },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n--- first:\n${first.output()}\n--- second:\n${second.output()}`);
      });
      expect(counts).toEqual({ events: acked.length, states: acked.length, behind: [] });
    },
    120_000,
  );
});
