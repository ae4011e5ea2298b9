import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { PgTaskQueueStore } from '../../src/task-queues/pg-task-queue.store';
import { TaskQueueStore } from '../../src/task-queues/task-queue.store';
import { enqueueRun } from '../factories/task-run.sql';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { TaskWorkerClient } from '../utils/task-worker-client';
import { createTestDatabase } from '../utils/test-database';

/** Several app instances on one database: restart, crash (lease expiry) and replicas. */
jest.setTimeout(60_000);

describe('task queues across restarts and replicas', () => {
  const apps: TestApp[] = [];
  const clients: TaskWorkerClient[] = [];
  const key = (): string => `tasks.${randomUUID().slice(0, 8)}`;

  const start = async (databaseUrl: string, env: Record<string, string> = {}): Promise<TestApp> => {
    const app = await createTestApp({ databaseUrl, env });
    apps.push(app);
    return app;
  };
  const storeOf = (app: TestApp): PgTaskQueueStore => app.app.get(TaskQueueStore);
  const subscribe = async (app: TestApp, keys: string[]): Promise<TaskWorkerClient> => {
    const c = await TaskWorkerClient.subscribe(app.wsUrl, keys);
    clients.push(c);
    return c;
  };
  /** Receives and acks until nothing arrives for `quietMs`. */
  const drain = async (w: TaskWorkerClient, quietMs = 2000): Promise<string[]> => {
    const got: string[] = [];
    for (;;) {
      const run = (await w.next(quietMs)) as { id: string } | undefined;
      if (!run) {
        return got;
      }
      got.push(run.id);
      w.ack();
    }
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  it('should deliver runs queued before a graceful restart to a worker of the new instance', async () => {
    const db = await createTestDatabase();
    const first = await start(db);
    const k = key();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await enqueueRun(first.dataSource, storeOf(first), k));
    }
    await first.close();

    const second = await start(db);
    const worker = await subscribe(second, [k]);
    const got = await drain(worker);
    expect(got).toEqual(ids);
  });

  it('should return an unacked delivery to the queue at graceful shutdown (1001) and redeliver it after restart', async () => {
    const db = await createTestDatabase();
    const first = await start(db);
    const k = key();
    const id = await enqueueRun(first.dataSource, storeOf(first), k);
    const w1 = await subscribe(first, [k]);
    expect((await w1.nextRun()).id).toBe(id);
    await first.close();
    expect(await w1.closed).toEqual({ code: 1001, reason: 'Server shutting down' });

    const second = await start(db);
    const w2 = await subscribe(second, [k]);
    const run = await w2.nextRun();
    expect(run.id).toBe(id);
    w2.ack();
    await expectEventually(async () => {
      const [row] = await second.dataSource.query<{ status: string; attempts: number }[]>(
        `SELECT status, attempts FROM task_queue_item WHERE task_run_id = $1`,
        [id],
      );
      expect(row).toEqual({ status: 'acked', attempts: 2 });
    });
  });

  it('should redeliver a run claimed by a replica that crashed once its lease expires', async () => {
    const db = await createTestDatabase();
    const app = await start(db, { PREFECT_SERVER_TASKS_SCHEDULING_DELIVERY_LEASE: '1' });
    const k = key();
    const id = await enqueueRun(app.dataSource, storeOf(app), k);
    // A "replica" claims the run on its own connection, never acks or renews, and dies.
    const crashed = new Client({ connectionString: db });
    await crashed.connect();
    const claimed = await crashed.query(
      `UPDATE task_queue_item SET status = 'leased', lease_owner = 'crashed-replica', lease_token = gen_random_uuid(),
         lease_expires_at = clock_timestamp() + interval '1 second', attempts = attempts + 1
       WHERE task_run_id = $1 RETURNING task_run_id`,
      [id],
    );
    expect(claimed.rowCount).toBe(1);
    await crashed.query(`SELECT pg_terminate_backend(pg_backend_pid())`).catch(() => undefined);
    await crashed.end().catch(() => undefined);

    const worker = await subscribe(app, [k]);
    const run = await worker.nextRun(10_000);
    expect(run.id).toBe(id);
    worker.ack();
    await expectEventually(async () => {
      const [row] = await app.dataSource.query<{ status: string; queue: string; attempts: number }[]>(
        `SELECT status, queue, attempts FROM task_queue_item WHERE task_run_id = $1`,
        [id],
      );
      expect(row).toEqual({ status: 'acked', queue: 'retry', attempts: 2 });
    });
  });

  it('should keep the lease of a live but slow worker (renewal) so no other socket gets its run', async () => {
    const db = await createTestDatabase();
    // A 2 s lease renewed every 2/3 s: a renewal may run 1.3 s late on a busy machine and still hold.
    const app = await start(db, { PREFECT_SERVER_TASKS_SCHEDULING_DELIVERY_LEASE: '2' });
    const k = key();
    const id = await enqueueRun(app.dataSource, storeOf(app), k);
    const lease = async (): Promise<{ token: string; expires: number }> => {
      const [row] = await app.dataSource.query<{ token: string; expires: number }[]>(
        `SELECT lease_token::text AS token, extract(epoch FROM lease_expires_at)::float8 AS expires
         FROM task_queue_item WHERE task_run_id = $1 AND status = 'leased'`,
        [id],
      );
      return row;
    };
    const slow = await subscribe(app, [k]);
    expect((await slow.nextRun()).id).toBe(id);
    const first = await lease();
    const other = await subscribe(app, [k]);
    // Outlive the first lease by more than a whole lease: the run stays with the slow worker, renewed.
    expect(await other.next(5000)).toBeUndefined();
    const later = await lease();
    expect(later.token).toBe(first.token);
    expect(later.expires).toBeGreaterThan(first.expires + 2);
    slow.ack();
  });

  it('should deliver every run exactly once across two replicas, whichever replica it was enqueued through', async () => {
    const db = await createTestDatabase();
    const a = await start(db);
    const b = await start(db);
    const k = key();
    const workers = [
      await subscribe(a, [k]),
      await subscribe(a, [k]),
      await subscribe(b, [k]),
      await subscribe(b, [k]),
    ];
    const total = 40;
    let received = 0;
    const deadline = Date.now() + 30_000;
    const consume = async (w: TaskWorkerClient): Promise<string[]> => {
      const got: string[] = [];
      while (received < total && Date.now() < deadline) {
        const run = (await w.next(200)) as { id: string } | undefined;
        if (!run) {
          continue;
        }
        received++;
        got.push(run.id);
        w.ack();
      }
      return got;
    };
    const drained = Promise.all(workers.map(consume));
    const ids: string[] = [];
    for (let i = 0; i < total; i++) {
      const via = i % 2 === 0 ? a : b;
      ids.push(await enqueueRun(via.dataSource, storeOf(via), k));
    }
    const perWorker = await drained;
    const got = perWorker.flat();
    expect(got.length).toBe(total);
    expect(new Set(got)).toEqual(new Set(ids));
    // Nothing more arrives afterwards, and both replicas took part.
    for (const w of workers) {
      expect(await w.next(300)).toBeUndefined();
    }
    expect(perWorker[0].length + perWorker[1].length).toBeGreaterThan(0);
    expect(perWorker[2].length + perWorker[3].length).toBeGreaterThan(0);
  });

  it('should wake a worker on one replica when a run is enqueued through the other (NOTIFY)', async () => {
    const db = await createTestDatabase();
    const a = await start(db);
    const b = await start(db);
    const k = key();
    // Woken by the NOTIFY, not by the wait's 30 s timeout: the bound sits far from both.
    const waited = storeOf(b).waitForWork([k], 30_000);
    const started = Date.now();
    await enqueueRun(a.dataSource, storeOf(a), k);
    await waited;
    expect(Date.now() - started).toBeLessThan(20_000);

    const worker = await subscribe(b, [k]);
    const id = await enqueueRun(a.dataSource, storeOf(a), k);
    const runs = [(await worker.nextRun()).id];
    worker.ack();
    runs.push((await worker.nextRun()).id);
    worker.ack();
    expect(runs).toContain(id);
  });

  it('should list a worker connected to one replica when asked through the other', async () => {
    const db = await createTestDatabase();
    const a = await start(db);
    const b = await start(db);
    const k = key();
    await subscribe(a, [k]);
    await expectEventually(async () => {
      const res = await request(b.baseUrl)
        .post('/api/task_workers/filter')
        .send({ task_worker_filter: { task_keys: [k] } })
        .expect(200);
      expect(res.body).toHaveLength(1);
      expect(res.body[0].task_keys).toEqual([k]);
    });
    const admin = await request(b.baseUrl).get('/api/admin/task_queues').expect(200);
    expect(admin.body).toEqual([]);
  });

  describe('with PREFECT_SERVER_API_AUTH_STRING', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ env: { PREFECT_SERVER_API_AUTH_STRING: 'admin:s3cret' } });
    });
    afterAll(async () => {
      await t.close();
    });

    it('should accept the right token', async () => {
      const c = await TaskWorkerClient.subscribe(t.wsUrl, ['k'], 'w', { token: 'admin:s3cret' });
      clients.push(c);
      const id = await enqueueRun(t.dataSource, t.app.get(TaskQueueStore), 'k');
      expect((await c.nextRun()).id).toBe(id);
      c.ack();
    });

    it.each([
      [null, 'Auth required but no token provided'],
      ['wrong', 'Invalid token'],
    ])('should close 1008 for token %j', async (token, reason) => {
      const c = await TaskWorkerClient.open(t.wsUrl, { token });
      clients.push(c);
      expect(await c.closed).toEqual({ code: 1008, reason });
    });

    it('should close 1002 without the prefect subprotocol', async () => {
      const c = await TaskWorkerClient.open(t.wsUrl, { protocol: false });
      clients.push(c);
      expect((await c.closed).code).toBe(1002);
    });
  });
});
