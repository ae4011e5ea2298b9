import { randomUUID } from 'node:crypto';
import { createDeferredTaskRun } from '../factories/task-run.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { startServer } from '../utils/server-process';
import { TaskWorkerClient } from '../utils/task-worker-client';
import { createTestDatabase } from '../utils/test-database';

jest.setTimeout(120_000);

/** The real server process: SIGTERM drains deliveries, SIGKILL mid-delivery is recovered by lease expiry. */
describe('task queues across server process restarts', () => {
  const clients: TaskWorkerClient[] = [];
  let app: TestApp | undefined;

  const subscribe = async (baseUrl: string, keys: string[]): Promise<TaskWorkerClient> => {
    const c = await TaskWorkerClient.subscribe(baseUrl.replace(/^http/, 'ws'), keys);
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await app?.close();
    app = undefined;
  });

  it('should return an unacked delivery and keep queued runs on SIGTERM (exit 0), then deliver both after restart', async () => {
    const databaseUrl = await createTestDatabase();
    const server = await startServer({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'info' });
    const k = `tasks.${randomUUID().slice(0, 8)}`;
    let inFlight: string;
    let queued: string;
    try {
      inFlight = (await createDeferredTaskRun(server.baseUrl, k)).id;
      const worker = await subscribe(server.baseUrl, [k]);
      expect((await worker.nextRun()).id).toBe(inFlight);
      queued = (await createDeferredTaskRun(server.baseUrl, k)).id;
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    expect(await clients[0].closed).toEqual({ code: 1001, reason: 'Server shutting down' });

    app = await createTestApp({ databaseUrl });
    const worker = await subscribe(app.baseUrl, [k]);
    const got: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      got.push((await worker.nextRun()).id);
      worker.ack();
    }
    expect(got.sort()).toEqual([inFlight, queued].sort());
  });

  it('should redeliver a run whose server was SIGKILLed mid-delivery once its lease expires', async () => {
    const databaseUrl = await createTestDatabase();
    const env = { PREFECT_SERVER_TASKS_SCHEDULING_DELIVERY_LEASE: '1' };
    const server = await startServer({ DATABASE_URL: databaseUrl, ...env });
    const k = `tasks.${randomUUID().slice(0, 8)}`;
    const id = (await createDeferredTaskRun(server.baseUrl, k)).id;
    const doomed = await subscribe(server.baseUrl, [k]);
    expect((await doomed.nextRun()).id).toBe(id);
    await server.stop('SIGKILL');
    doomed.terminate();

    app = await createTestApp({ databaseUrl, env });
    const worker = await subscribe(app.baseUrl, [k]);
    expect((await worker.nextRun(15_000)).id).toBe(id);
    worker.ack();
    await expectEventually(async () => {
      const [row] = await app!.dataSource.query<{ status: string; attempts: number }[]>(
        `SELECT status, attempts FROM task_queue_item WHERE task_run_id = $1`,
        [id],
      );
      expect(row).toEqual({ status: 'acked', attempts: 2 });
    });
  });
});
