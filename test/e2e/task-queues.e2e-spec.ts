import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { TooManyRequestsError } from '../../src/common/errors/domain.error';
import { MetricsService } from '../../src/common/metrics/metrics.service';
import { PgTaskQueueStore } from '../../src/task-queues/pg-task-queue.store';
import { TaskQueues } from '../../src/task-queues/task-queue';
import {
  LISTENER_CHECK_MS,
  LISTENER_CHECK_TIMEOUT_MS,
  TASK_QUEUE_CHANNEL,
} from '../../src/task-queues/task-queue.notifier';
import { TaskQueueStore } from '../../src/task-queues/task-queue.store';
import {
  LIVENESS_TIMEOUT_MS,
  PING_INTERVAL_MS,
  PREFETCH_WINDOW,
  SUBSCRIBER_WAIT_MS,
} from '../../src/task-queues/task-run-subscriptions.service';
import { enqueueRun, insertDeferredRun, taskRunSnapshot } from '../factories/task-run.sql';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { TaskWorkerClient } from '../utils/task-worker-client';
import { TcpProxy } from '../utils/tcp-proxy';
import { adminQuery, createTestDatabase } from '../utils/test-database';

jest.setTimeout(60_000);

describe('task queues and the task-worker websocket', () => {
  let t: TestApp;
  let store: PgTaskQueueStore;
  const clients: TaskWorkerClient[] = [];

  const key = (): string => `tasks.${randomUUID().slice(0, 8)}`;
  const subscribe = async (keys: string[], clientId?: string): Promise<TaskWorkerClient> => {
    const c = await TaskWorkerClient.subscribe(t.wsUrl, keys, clientId);
    clients.push(c);
    return c;
  };
  const enqueue = (taskKey: string, queue: 'scheduled' | 'retry' = 'scheduled'): Promise<string> =>
    enqueueRun(t.dataSource, store, taskKey, queue);
  const queueRow = async (
    id: string,
  ): Promise<{ status: string; queue: string; attempts: number } | undefined> => {
    const rows: { status: string; queue: string; attempts: number }[] = await t.dataSource.query(
      `SELECT status, queue, attempts FROM task_queue_item WHERE task_run_id = $1`,
      [id],
    );
    return rows[0];
  };

  beforeAll(async () => {
    t = await createTestApp();
    store = t.app.get(TaskQueueStore);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await t.close();
  });

  it('should deliver the full snapshot of a queued run and complete it on ack', async () => {
    const k = key();
    const id = await enqueue(k);
    const worker = await subscribe([k]);
    const run = await worker.nextRun();
    expect(run).toMatchObject({
      id,
      task_key: k,
      state: { type: 'SCHEDULED', state_details: { deferred: true } },
    });
    worker.ack();
    await expectEventually(async () => expect(await queueRow(id)).toMatchObject({ status: 'acked' }));
  });

  it('should serve the retry queue before the scheduled queue, each in FIFO order', async () => {
    const k = key();
    const s1 = await enqueue(k);
    const s2 = await enqueue(k);
    const r1 = await enqueue(k, 'retry');
    const r2 = await enqueue(k, 'retry');
    const worker = await subscribe([k]);
    const order: unknown[] = [];
    for (let i = 0; i < 4; i++) {
      order.push((await worker.nextRun()).id);
      worker.ack();
    }
    expect(order).toEqual([r1, r2, s1, s2]);
  });

  it('should deliver only subscribed keys, in subscription order', async () => {
    const [a, b, c] = [key(), key(), key()];
    const a1 = await enqueue(a);
    const c1 = await enqueue(c);
    const b1 = await enqueue(b);
    const worker = await subscribe([b, a]);
    const got: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      got.push((await worker.nextRun()).id);
      worker.ack();
    }
    expect(got).toEqual([b1, a1]);
    expect(await worker.next(1500)).toBeUndefined();
    expect(await queueRow(c1)).toMatchObject({ status: 'queued' });
  });

  it('should wake a waiting subscriber as soon as a run is enqueued', async () => {
    const k = key();
    const worker = await subscribe([k]);
    await expectEventually(async () => {
      const res = await request(t.baseUrl).post('/api/task_workers/filter').send({}).expect(200);
      expect((res.body as { task_keys: string[] }[]).map((w) => w.task_keys).flat()).toContain(k);
    });
    const id = await enqueue(k);
    expect((await worker.nextRun(5000)).id).toBe(id);
    worker.ack();
  });

  it('should give two sockets disjoint runs that together cover every run', async () => {
    const k = key();
    const w1 = await subscribe([k]);
    const w2 = await subscribe([k]);
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      ids.add(await enqueue(k));
    }
    const drain = async (w: TaskWorkerClient): Promise<string[]> => {
      const got: string[] = [];
      for (;;) {
        const run = (await w.next(2000)) as { id: string } | undefined;
        if (!run) {
          return got;
        }
        got.push(run.id);
        w.ack();
      }
    };
    const [g1, g2] = await Promise.all([drain(w1), drain(w2)]);
    expect(g1.filter((id) => g2.includes(id))).toEqual([]);
    expect(new Set([...g1, ...g2])).toEqual(ids);
    expect(g1.length + g2.length).toBe(20);
  });

  it('should redeliver a run sent but not acked to the next subscriber when the socket closes', async () => {
    const k = key();
    const id = await enqueue(k);
    const w1 = await subscribe([k]);
    expect((await w1.nextRun()).id).toBe(id);
    expect(await queueRow(id)).toMatchObject({ status: 'leased' });
    await w1.close();
    await expectEventually(async () =>
      expect(await queueRow(id)).toMatchObject({ status: 'queued', queue: 'retry' }),
    );
    const w2 = await subscribe([k]);
    const again = await w2.nextRun();
    expect(again.id).toBe(id);
    w2.ack();
    await expectEventually(async () =>
      expect(await queueRow(id)).toMatchObject({ status: 'acked', attempts: 2 }),
    );
  });

  it('should hold at most the prefetch window for a socket and return it in queue order when the socket dies', async () => {
    const k = key();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(await enqueue(k));
    }
    const leased = async (): Promise<string[]> => {
      const rows: { task_run_id: string }[] = await t.dataSource.query(
        `SELECT task_run_id FROM task_queue_item WHERE task_key = $1 AND status = 'leased' ORDER BY seq`,
        [k],
      );
      return rows.map((r) => r.task_run_id);
    };
    const w1 = await subscribe([k]);
    expect((await w1.nextRun()).id).toBe(ids[0]);
    w1.ack();
    expect((await w1.nextRun()).id).toBe(ids[1]);
    // The backlog is deep: besides the run it sent, the socket holds the full window, no more.
    await expectEventually(async () => expect(await leased()).toEqual(ids.slice(1, 2 + PREFETCH_WINDOW)));
    await new Promise((r) => setTimeout(r, 100));
    expect(await leased()).toEqual(ids.slice(1, 2 + PREFETCH_WINDOW));

    w1.terminate();
    // The sent run goes to the retry queue; the window goes back to its place, not counted as an attempt.
    await expectEventually(async () => expect(await leased()).toEqual([]));
    expect(await queueRow(ids[1])).toMatchObject({ status: 'queued', queue: 'retry', attempts: 1 });
    for (const id of ids.slice(2, 2 + PREFETCH_WINDOW)) {
      expect(await queueRow(id)).toMatchObject({ status: 'queued', queue: 'scheduled', attempts: 0 });
    }

    const w2 = await subscribe([k]);
    const order: string[] = [];
    for (let i = 1; i < ids.length; i++) {
      order.push((await w2.nextRun()).id as string);
      w2.ack();
    }
    expect(order).toEqual(ids.slice(1));
  });

  it('should redeliver when the worker drops the connection without a close frame', async () => {
    const k = key();
    const id = await enqueue(k);
    const w1 = await subscribe([k]);
    expect((await w1.nextRun()).id).toBe(id);
    w1.terminate();
    const w2 = await subscribe([k]);
    expect((await w2.nextRun()).id).toBe(id);
    w2.ack();
  });

  it('should deliver a run whose notification never came within two idle waits (the poll fallback)', async () => {
    const k = key();
    const worker = await subscribe([k]);
    await expectEventually(async () => {
      const res = await request(t.baseUrl).post('/api/task_workers/filter').send({}).expect(200);
      expect((res.body as { task_keys: string[] }[]).flatMap((w) => w.task_keys)).toContain(k);
    });
    // Queued behind the store's back: no pg_notify, as if the notification had been lost.
    const id = await insertDeferredRun(t.dataSource, k);
    const queuedAt = Date.now();
    await t.dataSource.query(
      `INSERT INTO task_queue_item (task_run_id, task_key, queue, snapshot) VALUES ($1, $2, 'scheduled', $3::json)`,
      [id, k, JSON.stringify(taskRunSnapshot(id, k))],
    );
    expect((await worker.nextRun(2 * SUBSCRIBER_WAIT_MS + 1000)).id).toBe(id);
    expect(Date.now() - queuedAt).toBeLessThanOrEqual(2 * SUBSCRIBER_WAIT_MS + 1000);
    worker.ack();
  });

  it('should keep a worker that was busy longer than the liveness timeout and deliver to it once idle', async () => {
    // Regression (docs/task-queues.md, "Liveness"): pings went out only while a socket idled, and the first idle
    // wait after a busy stretch longer than LIVENESS_TIMEOUT_MS found no recent pong and terminated a healthy
    // worker; with every worker of a key dropped that way, a new run stayed queued with 0 attempts.
    const k = key();
    const worker = await subscribe([k]);
    const busyUntil = Date.now() + LIVENESS_TIMEOUT_MS + 1000;
    while (Date.now() < busyUntil) {
      const id = await enqueue(k);
      expect((await worker.nextRun(5000)).id).toBe(id);
      worker.ack();
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, SUBSCRIBER_WAIT_MS * 2.5)); // idle: the liveness probe runs
    const id = await enqueue(k);
    expect((await worker.nextRun(5000)).id).toBe(id);
    worker.ack();
    expect(await queueRow(id)).toMatchObject({ attempts: 1 });
  });

  it('should drop a worker whose connection went silent while it held a run, and redeliver the run', async () => {
    const k = key();
    const id = await enqueue(k);
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(t.baseUrl).port));
    await proxy.restore();
    const silent = await TaskWorkerClient.subscribe(`ws://127.0.0.1:${proxy.port}`, [k]);
    try {
      expect((await silent.nextRun()).id).toBe(id);
      proxy.freeze(); // the worker's host vanished before its ack: no FIN, no RST
      const w2 = await subscribe([k]);
      const again = await w2.nextRun(LIVENESS_TIMEOUT_MS + 5 * PING_INTERVAL_MS);
      expect(again.id).toBe(id);
      w2.ack();
      await expectEventually(async () =>
        expect(await queueRow(id)).toMatchObject({ status: 'acked', attempts: 2 }),
      );
    } finally {
      await proxy.cut();
      silent.terminate();
    }
  });

  it('should close 1000 on quit and count the run as delivered', async () => {
    const k = key();
    const id = await enqueue(k);
    const worker = await subscribe([k]);
    expect((await worker.nextRun()).id).toBe(id);
    worker.quit();
    expect(await worker.closed).toEqual({ code: 1000, reason: '' });
    await expectEventually(async () => expect(await queueRow(id)).toMatchObject({ status: 'acked' }));
  });

  it('should close 4001 on a reply that is neither ack nor quit and put the run on the retry queue', async () => {
    const k = key();
    const id = await enqueue(k);
    const worker = await subscribe([k]);
    await worker.nextRun();
    worker.send({ type: 'nack' });
    expect(await worker.closed).toEqual({ code: 4001, reason: 'Unexpected acknowledgement type.' });
    await expectEventually(async () =>
      expect(await queueRow(id)).toMatchObject({ status: 'queued', queue: 'retry' }),
    );
  });

  it.each([
    [{ type: 'hello', keys: ['a'], client_id: 'x' }, "Protocol violation: expected 'subscribe' message"],
    [{ type: 'subscribe', client_id: 'x' }, "Protocol violation: expected 'keys' in subscribe message"],
    [
      { type: 'subscribe', keys: [], client_id: 'x' },
      "Protocol violation: expected 'keys' in subscribe message",
    ],
    [{ type: 'subscribe', keys: ['a'] }, "Protocol violation: expected 'client_id' in subscribe message"],
    ['not json', "Protocol violation: expected 'subscribe' message"],
  ])('should close 4001 for the subscribe frame %j', async (frame, reason) => {
    const c = await TaskWorkerClient.open(t.wsUrl);
    clients.push(c);
    expect(await c.next()).toEqual({ type: 'auth_success' });
    c.send(frame);
    expect(await c.closed).toEqual({ code: 4001, reason });
  });

  it("should close 1008 when the first frame is not 'auth'", async () => {
    const c = await TaskWorkerClient.open(t.wsUrl, { auth: false });
    clients.push(c);
    c.send({ type: 'subscribe', keys: ['a'], client_id: 'x' });
    expect(await c.closed).toEqual({ code: 1008, reason: "Expected 'auth' message" });
  });

  it('should accept a legacy client without the prefect subprotocol and no auth frame', async () => {
    const k = key();
    const id = await enqueue(k);
    const legacy = await TaskWorkerClient.subscribe(t.wsUrl, [k], 'legacy', { protocol: false });
    clients.push(legacy);
    expect((await legacy.nextRun()).id).toBe(id);
    legacy.ack();
  });

  it('should list connected task workers with all their keys, filterable by key, and forget them on close', async () => {
    const [a, b] = [key(), key()];
    const clientId = `worker-${randomUUID()}`;
    const w = await subscribe([a, b], clientId);
    const other = await subscribe([key()]);
    await expectEventually(async () => {
      const res = await request(t.baseUrl)
        .post('/api/task_workers/filter')
        .send({ task_worker_filter: { task_keys: [b] } })
        .expect(200);
      expect(res.body).toEqual([
        {
          identifier: clientId,
          task_keys: [a, b].sort(),
          timestamp: expect.stringMatching(/^\d{4}-.*\.\d{6}Z$/),
        },
      ]);
    });
    const all = await request(t.baseUrl).post('/api/task_workers/filter').expect(200);
    expect(all.body.length).toBeGreaterThanOrEqual(2);
    await w.close();
    await other.close();
    await expectEventually(async () => {
      const res = await request(t.baseUrl)
        .post('/api/task_workers/filter')
        .send({ task_worker_filter: { task_keys: [a] } })
        .expect(200);
      expect(res.body).toEqual([]);
    });
  });

  it('should refuse unknown keys in the task worker filter with 422', async () => {
    await request(t.baseUrl)
      .post('/api/task_workers/filter')
      .send({ task_worker_filter: { task_keys: ['a'], nope: 1 } })
      .expect(422);
  });

  it('should report per-key depths, in-flight deliveries and oldest age at /api/admin/task_queues', async () => {
    const k = key();
    await enqueue(k);
    await enqueue(k);
    await enqueue(k, 'retry');
    const res = await request(t.baseUrl).get('/api/admin/task_queues').expect(200);
    const entry = (res.body as { task_key: string }[]).find((e) => e.task_key === k);
    expect(entry).toEqual({
      task_key: k,
      scheduled: 2,
      retry: 1,
      in_flight: 0,
      oldest_age_seconds: expect.any(Number),
      max_scheduled_queue_size: 1000,
      max_retry_queue_size: 100,
    });
    const worker = await subscribe([k]);
    await worker.nextRun();
    // One run sent and awaiting its ack, one prefetched for this socket: both leased.
    await expectEventually(async () => {
      const again = await request(t.baseUrl).get('/api/admin/task_queues').expect(200);
      expect((again.body as { task_key: string }[]).find((e) => e.task_key === k)).toMatchObject({
        scheduled: 1,
        retry: 0,
        in_flight: 2,
      });
    });
    const { body } = await t.app.get(MetricsService).render();
    expect(body).toContain(`prefect_task_queue_depth{task_key="${k}",queue="scheduled"} 1`);
    expect(body).toContain(`prefect_task_queue_in_flight{task_key="${k}"} 2`);
    expect(body).toContain(`prefect_task_queue_deliveries_total{task_key="${k}"} 1`);
    expect(body).toContain(`prefect_task_queue_enqueued_total{task_key="${k}",queue="retry"} 1`);
    expect(body).toMatch(/prefect_task_worker_sockets \d+/);
  });

  it('should refuse (429) an enqueue into a full queue without blocking, rolling the transaction back', async () => {
    const k = key();
    t.app.get(TaskQueues).configureTaskKey(k, 2, 1);
    await enqueue(k);
    await enqueue(k);
    // Never blocks: a refusal that waited for room would wait for ever (nothing drains this key), so the
    // bound only names the failure and leaves a busy machine plenty of margin.
    const started = Date.now();
    await expect(enqueue(k)).rejects.toBeInstanceOf(TooManyRequestsError);
    expect(Date.now() - started).toBeLessThan(15_000);
    await enqueue(k, 'retry');
    await expect(enqueue(k, 'retry')).rejects.toThrow(/retry queue for task key .* is full/);
    const runs: { n: number }[] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM task_run WHERE task_key = $1`,
      [k],
    );
    expect(runs[0].n).toBe(3);
    // A delivery returned to a full retry queue is never refused: it was already counted.
    const worker = await subscribe([k]);
    await worker.nextRun();
    await worker.close();
    await expectEventually(async () => {
      const [stats] = (await store.stats()).filter((s) => s.taskKey === k);
      expect(stats).toMatchObject({ retry: 1, scheduled: 2, inFlight: 0 });
    });
  });

  it('should neither block nor be blocked by another open transaction enqueueing on the same key', async () => {
    const k = key();
    const runner = t.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      const pendingId = await insertDeferredRun(runner.manager, k);
      await store.enqueue(
        runner.manager,
        { taskRunId: pendingId, taskKey: k, snapshot: { id: pendingId } },
        'scheduled',
      );
      const worker = await subscribe([k]);
      // Blocking on the open transaction would wait until it commits, which only happens further down: a
      // deadlock that the bound turns into a clear failure (with margin for a busy machine).
      const started = Date.now();
      const committed = await enqueue(k);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await worker.nextRun()).id).toBe(committed); // the uncommitted run is invisible, not in the way
      worker.ack();
      await runner.commitTransaction();
      expect((await worker.nextRun()).id).toBe(pendingId); // and delivered once its transaction commits
      worker.ack();
    } finally {
      if (runner.isTransactionActive) {
        await runner.rollbackTransaction();
      }
      await runner.release();
    }
  });

  it('should keep delivering after PostgreSQL drops its LISTEN connection', async () => {
    const k = key();
    const killed = await t.dataSource.query<{ ok: boolean }[]>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
       WHERE datname = current_database() AND application_name LIKE 'prefect-task-queue-listener:%'`,
    );
    expect(killed).toEqual([{ ok: true }]);
    await expectEventually(() => expect(store.listening).toBe(false), { timeoutMs: 5000, intervalMs: 5 });
    await expectEventually(() => expect(store.listening).toBe(true));
    const worker = await subscribe([k]);
    await expectEventually(async () => {
      const res = await request(t.baseUrl).post('/api/task_workers/filter').send({}).expect(200);
      expect((res.body as { task_keys: string[] }[]).map((w) => w.task_keys).flat()).toContain(k);
    });
    // Woken by NOTIFY on the new connection, not by the wait's timeout (30 s): the bound sits far from both.
    const waited = store.waitForWork([k], 30_000);
    const started = Date.now();
    const id = await enqueue(k);
    await waited;
    expect(Date.now() - started).toBeLessThan(20_000);
    expect((await worker.nextRun()).id).toBe(id);
    worker.ack();
  });

  it('should notice a LISTEN connection that went silent and listen on a new one', async () => {
    const direct = await createTestDatabase();
    const proxied = await TcpProxy.forUrl(direct);
    const own = await createTestApp({ databaseUrl: proxied.url });
    try {
      const ownStore = own.app.get<TaskQueueStore, PgTaskQueueStore>(TaskQueueStore);
      await expectEventually(() => expect(ownStore.listening).toBe(true));
      proxied.proxy.freeze(); // every open connection half-open: no error ever reaches the listener
      const frozenAt = Date.now();
      await expectEventually(() => expect(ownStore.listening).toBe(false), {
        timeoutMs: LISTENER_CHECK_MS + LISTENER_CHECK_TIMEOUT_MS + 5000,
        intervalMs: 50,
      });
      expect(Date.now() - frozenAt).toBeLessThanOrEqual(LISTENER_CHECK_MS + LISTENER_CHECK_TIMEOUT_MS + 5000);
      await expectEventually(() => expect(ownStore.listening).toBe(true), { timeoutMs: 15_000 });
      // A notification sent straight to PostgreSQL reaches the new connection (the wait's 30 s bound is far away).
      const k = key();
      const waited = ownStore.waitForWork([k], 30_000);
      const started = Date.now();
      await adminQuery(direct, `SELECT pg_notify('${TASK_QUEUE_CHANNEL}', $1)`, [k]);
      await waited;
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await proxied.proxy.cut(); // the frozen connections fail now instead of holding the shutdown
      await proxied.proxy.restore();
      await own.close();
      await proxied.proxy.cut();
    }
  });

  it('should restore deferred SCHEDULED runs that have no queue row, but not acked or queued ones', async () => {
    const k = key();
    const orphan = await insertDeferredRun(t.dataSource, k);
    await insertDeferredRun(t.dataSource, k, { deferred: false });
    const queued = await enqueue(k);
    const worker = await subscribe([k]);
    expect((await worker.nextRun()).id).toBe(queued);
    worker.ack();
    await expectEventually(async () => expect(await queueRow(queued)).toMatchObject({ status: 'acked' }));
    expect(await store.restoreScheduledTasksIfNecessary()).toBe(1);
    const restored = await worker.nextRun();
    expect(restored).toMatchObject({ id: orphan, task_key: k, state: { type: 'SCHEDULED' } });
    worker.ack();
    expect(await worker.next(1500)).toBeUndefined();
    expect(await store.restoreScheduledTasksIfNecessary()).toBe(0);
  });
});
