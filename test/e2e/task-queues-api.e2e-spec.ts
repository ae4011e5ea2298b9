import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { PgTaskQueueStore } from '../../src/task-queues/pg-task-queue.store';
import { TaskQueues } from '../../src/task-queues/task-queue';
import { TaskQueueStore } from '../../src/task-queues/task-queue.store';
import { createDeferredTaskRun } from '../factories/task-run.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { TaskWorkerClient } from '../utils/task-worker-client';

jest.setTimeout(60_000);

/** Background tasks end to end: runs created through the task-runs API reach task workers. */
describe('background task delivery through the task runs API', () => {
  let t: TestApp;
  const clients: TaskWorkerClient[] = [];
  const key = (): string => `tasks.${randomUUID().slice(0, 8)}`;

  const subscribe = async (app: TestApp, keys: string[]): Promise<TaskWorkerClient> => {
    const c = await TaskWorkerClient.subscribe(app.wsUrl, keys);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    t = await createTestApp();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await t.close();
  });

  it('should deliver a deferred SCHEDULED run created with POST /api/task_runs/ as its full TaskRun JSON', async () => {
    const k = key();
    const worker = await subscribe(t, [k]);
    const body = await createDeferredTaskRun(t.baseUrl, k);
    const id = body.id;
    const run = await worker.nextRun();
    worker.ack();
    expect(run).toEqual({ ...body, estimated_start_time_delta: run.estimated_start_time_delta });
    expect(Object.keys(run)).toEqual(Object.keys(body)); // the snapshot keeps the wire field order
    expect(run).toMatchObject({
      id,
      task_key: k,
      flow_run_id: null,
      state_type: 'SCHEDULED',
      state: { type: 'SCHEDULED', name: 'Scheduled', state_details: { deferred: true, task_run_id: id } },
    });
  });

  it('should not queue a SCHEDULED run that is not deferred', async () => {
    const k = key();
    await request(t.baseUrl)
      .post('/api/task_runs/')
      .send({ task_key: k, dynamic_key: '1', state: { type: 'SCHEDULED' } })
      .expect(201);
    const admin = await request(t.baseUrl).get('/api/admin/task_queues').expect(200);
    expect((admin.body as { task_key: string }[]).some((e) => e.task_key === k)).toBe(false);
  });

  it('should put a deferred AwaitingRetry on the retry queue, served before scheduled runs', async () => {
    const k = key();
    const first = await createDeferredTaskRun(t.baseUrl, k);
    const second = await createDeferredTaskRun(t.baseUrl, k);
    // The first run is picked up, runs and fails; the client reschedules it as a deferred AwaitingRetry.
    const w1 = await subscribe(t, [k]);
    expect((await w1.nextRun()).id).toBe(first.id);
    w1.ack();
    await w1.close();
    await request(t.baseUrl)
      .post(`/api/task_runs/${first.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    await request(t.baseUrl)
      .post(`/api/task_runs/${first.id}/set_state`)
      .send({ state: { type: 'SCHEDULED', name: 'AwaitingRetry', state_details: { deferred: true } } })
      .expect(201);
    const w2 = await subscribe(t, [k]);
    const retried = await w2.nextRun();
    expect(retried).toMatchObject({ id: first.id, state: { name: 'AwaitingRetry', type: 'SCHEDULED' } });
    w2.ack();
    expect((await w2.nextRun()).id).toBe(second.id);
    w2.ack();
  });

  it('should answer 429 and leave no run behind when the key queue is full', async () => {
    const k = key();
    t.app.get(TaskQueues).configureTaskKey(k, 1);
    await createDeferredTaskRun(t.baseUrl, k);
    const res = await request(t.baseUrl)
      .post('/api/task_runs/')
      .send({
        task_key: k,
        dynamic_key: 'overflow',
        state: { type: 'SCHEDULED', state_details: { deferred: true } },
      })
      .expect(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toEqual({ detail: expect.stringContaining(`task key '${k}' is full`) });
    const rows = await t.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM task_run WHERE task_key = $1`,
      [k],
    );
    expect(rows[0].n).toBe(1);
  });

  it('should refuse only the run whose queue is full when concurrent creates share a group commit', async () => {
    // Creates sent together are written by one transaction whose COMMIT rides behind the enqueues
    // (docs/performance.md, "Seventh round"): the full queue's refusal rolls that transaction back, and every run
    // is retried alone, so its neighbours are still created and queued.
    const full = key();
    const open = key();
    t.app.get(TaskQueues).configureTaskKey(full, 1);
    await createDeferredTaskRun(t.baseUrl, full);
    const deferred = { type: 'SCHEDULED', state_details: { deferred: true } };
    const answers = await Promise.all([
      request(t.baseUrl)
        .post('/api/task_runs/')
        .send({ task_key: full, dynamic_key: 'over', state: deferred }),
      ...[0, 1, 2, 3, 4].map((i) =>
        request(t.baseUrl)
          .post('/api/task_runs/')
          .send({ task_key: open, dynamic_key: String(i), state: deferred }),
      ),
    ]);
    expect(answers.map((a) => a.status)).toEqual([429, 201, 201, 201, 201, 201]);
    const rows = await t.dataSource.query<{ task_key: string; runs: number; queued: number }[]>(
      `SELECT r.task_key, count(*)::int AS runs, count(q.task_run_id)::int AS queued
         FROM task_run r LEFT JOIN task_queue_item q ON q.task_run_id = r.id
        WHERE r.task_key = ANY($1::text[]) GROUP BY r.task_key ORDER BY r.task_key = $2 DESC`,
      [[full, open], full],
    );
    expect(rows).toEqual([
      { task_key: full, runs: 1, queued: 1 },
      { task_key: open, runs: 5, queued: 5 },
    ]);
  });

  it('should drop the queue entry of a deleted run', async () => {
    const k = key();
    const { id } = await createDeferredTaskRun(t.baseUrl, k);
    await request(t.baseUrl).delete(`/api/task_runs/${id}`).expect(204);
    const worker = await subscribe(t, [k]);
    expect(await worker.next(1500)).toBeUndefined();
  });

  it('should restore, at start-up, a deferred run whose queue row was lost, with the TaskRun JSON of the API', async () => {
    const k = key();
    const { id } = await createDeferredTaskRun(t.baseUrl, k);
    const read = await request(t.baseUrl).get(`/api/task_runs/${id}`).expect(200);
    await t.dataSource.query(`DELETE FROM task_queue_item WHERE task_run_id = $1`, [id]);
    const replica = await createTestApp({ databaseUrl: t.databaseUrl });
    try {
      const worker = await subscribe(replica, [k]);
      const run = await worker.nextRun();
      worker.ack();
      expect(run).toEqual({ ...read.body, estimated_start_time_delta: run.estimated_start_time_delta });
      const store: PgTaskQueueStore = replica.app.get(TaskQueueStore);
      expect(await store.restoreScheduledTasksIfNecessary()).toBe(0);
      await worker.close();
    } finally {
      await replica.close();
    }
  });

  it('should deliver runs created through one replica to a worker on another, each exactly once', async () => {
    const other = await createTestApp({ databaseUrl: t.databaseUrl });
    try {
      const k = key();
      const wa = await subscribe(t, [k]);
      const wb = await subscribe(other, [k]);
      const ids = new Set<string>();
      for (let i = 0; i < 10; i++) {
        ids.add((await createDeferredTaskRun((i % 2 ? t : other).baseUrl, k)).id);
      }
      const got: string[] = [];
      await expectEventually(
        async () => {
          for (const w of [wa, wb]) {
            const run = (await w.next(50)) as { id: string } | undefined;
            if (run) {
              got.push(run.id);
              w.ack();
            }
          }
          expect(got.length).toBe(10);
        },
        { timeoutMs: 20_000, intervalMs: 0 },
      );
      expect(new Set(got)).toEqual(ids);
      await Promise.all([wa.close(), wb.close()]);
    } finally {
      await other.close();
    }
  });
});
