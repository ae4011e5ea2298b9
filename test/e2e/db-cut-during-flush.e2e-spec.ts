import { Client } from 'pg';
import { postEvents, storedCounts, taskRunStream, waitForStatement } from '../utils/crash-load';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { TcpProxy } from '../utils/tcp-proxy';
import { createTestDatabase } from '../utils/test-database';

/** Ends every other session on `databaseUrl`'s database (this test's own database only). */
async function terminateBackends(databaseUrl: string): Promise<void> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [new URL(databaseUrl).pathname.slice(1)],
    );
  } finally {
    await c.end();
  }
}

/**
 * The app's PostgreSQL connections are cut (TCP reset, new connections refused, the server's sessions ended
 * and their statements rolled back, as in a database restart) exactly while a write is in flight: an append to the event log (a group commit that acknowledges
 * requests), a persister flush, or a recorder flush. Clients retry 503s, as they would. A request whose
 * append did not commit never gets a 2xx; after the database is back, every acknowledged event is stored
 * exactly once and recorded with its newest state, and no request hangs. Default broker (the PostgreSQL log).
 */
describe('PostgreSQL connections cut during a write', () => {
  let t: TestApp | undefined;
  let proxy: TcpProxy | undefined;

  afterEach(async () => {
    await proxy?.restore();
    await t?.close();
    await proxy?.cut();
    t = undefined;
    proxy = undefined;
  });

  it.each([
    ['an append to the event log', '%INSERT INTO event_log %'],
    ['a persister flush', '%INTO events%'],
    ['a recorder flush', '%INTO task_run%'],
  ])(
    'should acknowledge only what committed and store every acknowledged event once, cut during %s',
    async (_what, statement) => {
      const direct = await createTestDatabase();
      const proxied = await TcpProxy.forUrl(direct);
      proxy = proxied.proxy;
      t = await createTestApp({
        databaseUrl: proxied.url,
        env: {
          LOG_LEVEL: 'fatal',
          DATABASE_CONNECT_TIMEOUT: '2',
          // The factory's events occurred in January: retention must not delete them under the test's feet.
          PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
          PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.2',
          PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: '0.2',
          PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '200',
        },
      });
      const stream = taskRunStream(1500);
      let stop = false;
      const load = postEvents(t.baseUrl, stream, {
        batch: 50,
        concurrency: 4,
        stop: () => stop,
        retryUnavailable: true,
      });
      try {
        await expectEventually(
          async () => expect((await storedCounts(direct, stream)).events).toBeGreaterThan(300),
          { timeoutMs: 40_000, intervalMs: 100 },
        );
        expect(await waitForStatement(direct, statement)).toBe(true);
        // As in a database restart: the connections drop and the statements in flight are rolled back (a reset
        // socket alone would let the server finish and commit a statement it already had).
        await proxy.cut();
        await terminateBackends(direct);
        await new Promise((r) => setTimeout(r, 1500));
        await proxy.restore();
      } finally {
        // The load ends by itself once the stream is through (503s are retried); `stop` only if a check threw.
        const ended = await Promise.race([load.then(() => true), new Promise((r) => setTimeout(r, 90_000))]);
        if (!ended) {
          stop = true;
        }
      }
      const { acked, unacked, unavailable } = await load;
      const counts = await expectEventually(
        async () => {
          const c = await storedCounts(direct, acked);
          expect(c.events).toBe(acked.length);
          expect(c.states).toBe(acked.length);
          expect(c.behind).toEqual([]);
          return c;
        },
        { timeoutMs: 45_000, intervalMs: 250 },
      );
      expect(counts).toEqual({ events: acked.length, states: acked.length, behind: [] });
      // Nothing hung (every request got an answer), and the cut was seen by clients as 503s, never a 500.
      expect(unacked).toBe(0);
      expect(unavailable).toBeGreaterThan(0);
      expect(acked.length).toBe(stream.length);
    },
    150_000,
  );
});
