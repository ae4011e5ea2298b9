import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import request from 'supertest';
import { MetricsService } from '../../src/common/metrics/metrics.service';
import { ReceivedEvent } from '../../src/events/event.types';
import { TaskRunRecorder } from '../../src/services/task-run-recorder/task-run-recorder.background';
import { insertFlowRun } from '../factories/flow-run.sql';
import { at, runLifecycle, taskRunEvent } from '../factories/task-run-event.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';

// Real databases, several app instances: longer than jest's default 5 s (the e2e project's testTimeout is not
// applied per project by this jest version).
jest.setTimeout(60_000);

/** The wire form a client POSTs (the server stamps `received`). */
function wire(events: ReceivedEvent[]): Record<string, unknown>[] {
  return events.map(({ received: _, ...e }) => e);
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) {
    return [items];
  }
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

const RECORDER_ENV = {
  PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '50',
  PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: '0.05',
  PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_MAX_PERSIST_RETRIES: '2',
};

async function post(t: TestApp, events: ReceivedEvent[]): Promise<void> {
  await request(t.baseUrl).post('/api/events').send(wire(events)).expect(204);
}

/** A dead letter as `/api/admin/dead_letters` answers it, as far as these tests read it. */
interface DeadLetterJson {
  id: string;
  reason: string;
  payload: { id: string };
}

async function runRow(t: TestApp, id: string): Promise<Record<string, unknown> | undefined> {
  return (
    await t.dataSource.query<Record<string, unknown>[]>(`SELECT * FROM task_run WHERE id = $1`, [id])
  )[0];
}

async function stateTypes(t: TestApp, id: string): Promise<string[]> {
  const rows = await t.dataSource.query<{ type: string }[]>(
    `SELECT type FROM task_run_state WHERE task_run_id = $1 ORDER BY timestamp`,
    [id],
  );
  return rows.map((r) => r.type);
}

describe('TaskRunRecorder through the event bus', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: RECORDER_ENV });
  });

  afterAll(async () => {
    await t.close();
  });

  it('should be running and reported by /api/ready', async () => {
    const res = await request(t.baseUrl).get('/api/ready').expect(200);
    expect(res.body.services).toContainEqual(
      expect.objectContaining({
        name: 'TaskRunRecorder',
        env_var: 'PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED',
        enabled: true,
        status: 'running',
      }),
    );
  });

  it.each(permutations([0, 1, 2]).map((o) => [o.join('')]))(
    'should end COMPLETED with 3 states when Pending/Running/Completed arrive in order %s',
    async (order) => {
      const flowRunId = await insertFlowRun(t.dataSource);
      const id = randomUUID();
      const events = runLifecycle(id, flowRunId);
      // one request per event, each possibly recorded in its own flush
      for (const i of order.split('').map(Number)) {
        await post(t, [events[i]]);
      }
      await expectEventually(async () =>
        expect(await stateTypes(t, id)).toEqual(['PENDING', 'RUNNING', 'COMPLETED']),
      );
      expect(await runRow(t, id)).toMatchObject({
        state_type: 'COMPLETED',
        flow_run_id: flowRunId,
        end_time: at(2_000_000),
        run_count: 1,
      });
    },
  );

  it('should ignore task-run events that are not client-orchestrated', async () => {
    const id = randomUUID();
    const [pending, running] = runLifecycle(id, null);
    const server = { ...pending, resource: { ...pending.resource, 'prefect.orchestration': 'server' } };
    await post(t, [server]);
    await post(t, [running]);
    await expectEventually(async () => expect(await stateTypes(t, id)).toEqual(['RUNNING']));
  });

  it('should dead-letter a poison event and record the next good one', async () => {
    const metrics = t.app.get(MetricsService);
    const missingFlowRun = randomUUID();
    const poisonRun = randomUUID();
    const goodRun = randomUUID();
    const [poison] = runLifecycle(poisonRun, missingFlowRun);
    const [good] = runLifecycle(goodRun, null);
    await post(t, [poison]);
    await post(t, [good]);

    await expectEventually(async () => expect(await stateTypes(t, goodRun)).toEqual(['PENDING']));
    // a poison event being retried does not make the service unready
    await request(t.baseUrl).get('/api/ready').expect(200);
    const letter = await expectEventually(async () => {
      const res = await request(t.baseUrl)
        .get('/api/admin/dead_letters?source=task-run-recorder')
        .expect(200);
      const found = (res.body as DeadLetterJson[]).find((l) => l.payload.id === poison.id);
      expect(found).toBeDefined();
      return found!;
    });
    expect(letter).toMatchObject({ source: 'task-run-recorder', attempts: 2 });
    expect(letter.reason).toMatch(/foreign key/);
    expect(await runRow(t, poisonRun)).toBeUndefined();
    expect(
      (await metrics.registry.getSingleMetric('prefect_task_run_recorder_dead_lettered_total')!.get())
        .values[0].value,
    ).toBeGreaterThanOrEqual(1);

    // once the flow run exists, the letter replays into a task run
    await insertFlowRun(t.dataSource, missingFlowRun);
    await request(t.baseUrl).post(`/api/admin/dead_letters/${letter.id}/replay`).expect(200);
    expect(await runRow(t, poisonRun)).toMatchObject({ state_type: 'PENDING', flow_run_id: missingFlowRun });
  });

  it('should dead-letter an event with an unusable payload at once', async () => {
    const bad = taskRunEvent({ taskRunId: randomUUID(), type: 'RUNNING', occurred: at(0) });
    delete bad.payload.validated_state;
    await post(t, [bad]);
    const letter = await expectEventually(async () => {
      const res = await request(t.baseUrl)
        .get('/api/admin/dead_letters?source=task-run-recorder')
        .expect(200);
      const found = (res.body as DeadLetterJson[]).find((l) => l.payload.id === bad.id);
      expect(found).toMatchObject({
        attempts: 1,
        reason: expect.stringMatching(/validated_state is missing/),
      });
      return found!;
    });
    // replaying it cannot succeed either: 422 with the reason
    const res = await request(t.baseUrl).post(`/api/admin/dead_letters/${letter.id}/replay`).expect(422);
    expect(res.body.detail).toMatch(/validated_state is missing/);
  });

  it('should publish its metrics', async () => {
    const [pending] = runLifecycle(randomUUID(), null);
    await post(t, [pending]);
    const { body } = await expectEventually(async () => {
      const rendered = await t.app.get(MetricsService).render();
      expect(rendered.body).toMatch(/prefect_task_run_recorder_events_recorded_total [1-9]/);
      return rendered;
    });
    expect(body).toMatch(/prefect_task_run_recorder_batches_total\{outcome="success"\} [1-9]/);
    expect(body).toMatch(/prefect_task_run_recorder_flush_duration_seconds_count [1-9]/);
    expect(body).toMatch(/prefect_task_run_recorder_lag_seconds \d/);
    expect(body).toMatch(/prefect_task_run_recorder_queue_depth \d/);
  });
});

describe('TaskRunRecorder lifecycle', () => {
  it('should record what is queued on shutdown, before the database closes', async () => {
    const t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '1000',
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: '3600',
      },
    });
    // The recorder writes as soon as no write is in flight: hold its first write on a table lock, so that the
    // next events stay queued until shutdown.
    const blocker = new Client({ connectionString: t.databaseUrl });
    await blocker.connect();
    await blocker.query(`BEGIN; LOCK TABLE task_run IN SHARE MODE`);
    const first = randomUUID();
    const id = randomUUID();
    let closed: Promise<void> | undefined;
    try {
      await post(t, runLifecycle(first, null));
      await expectEventually(() => expect(t.app.get(TaskRunRecorder).queueDepth).toBe(0));
      await post(t, runLifecycle(id, null));
      await expectEventually(() => expect(t.app.get(TaskRunRecorder).queueDepth).toBe(3));
      closed = t.close();
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    await closed;
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT state_type FROM task_run WHERE id = ANY($1::uuid[])`, [
        [first, id],
      ]);
      expect(rows).toEqual([{ state_type: 'COMPLETED' }, { state_type: 'COMPLETED' }]);
    } finally {
      await client.end();
    }
  });

  it('should not run when disabled, and readiness does not wait for it', async () => {
    const t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.05',
      },
    });
    try {
      const res = await request(t.baseUrl).get('/api/ready').expect(200);
      expect(res.body.services).toContainEqual(
        expect.objectContaining({ name: 'TaskRunRecorder', enabled: false, status: 'stopped' }),
      );
      const id = randomUUID();
      const events = runLifecycle(id, null);
      await post(t, events);
      // the events went through the bus (the persister stored them), and no task run came of them
      await expectEventually(async () => {
        const [{ n }] = await t.dataSource.query(
          `SELECT count(*) AS n FROM events WHERE id = ANY($1::uuid[])`,
          [events.map((e) => e.id)],
        );
        expect(n).toBe(3);
      });
      expect(await runRow(t, id)).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('should let two recorders on one database record the same runs without deadlock or duplicates', async () => {
    const a = await createTestApp({
      env: { ...RECORDER_ENV, PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '40' },
    });
    const b = await createTestApp({
      env: { ...RECORDER_ENV, PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '25' },
      databaseUrl: a.databaseUrl,
    });
    try {
      const flowRunId = await insertFlowRun(a.dataSource);
      const ids: string[] = [];
      const events: ReceivedEvent[] = [];
      for (let i = 0; i < 200; i++) {
        const id = randomUUID();
        ids.push(id);
        events.push(...runLifecycle(id, i % 2 ? flowRunId : null, i, 'two', String(i)));
      }
      // Every event goes to both replicas (as after a redelivery), in different orders and request sizes.
      const reversed = [...events].reverse();
      const chunks = (list: ReceivedEvent[], n: number) =>
        Array.from({ length: Math.ceil(list.length / n) }, (_, i) => list.slice(i * n, i * n + n));
      await Promise.all([
        (async () => {
          for (const c of chunks(events, 30)) {
            await post(a, c);
          }
        })(),
        (async () => {
          for (const c of chunks(reversed, 45)) {
            await post(b, c);
          }
        })(),
      ]);
      await expectEventually(
        async () => {
          const [{ n }] = await a.dataSource.query(
            `SELECT count(*) AS n FROM task_run_state s JOIN task_run r ON r.id = s.task_run_id WHERE r.task_key = 'two'`,
          );
          expect(n).toBe(600);
        },
        { timeoutMs: 20_000 },
      );
      const rows = await a.dataSource.query<{ id: string; state_type: string }[]>(
        `SELECT id, state_type FROM task_run WHERE task_key = 'two'`,
      );
      expect(rows).toHaveLength(200);
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
      expect(rows.every((r) => r.state_type === 'COMPLETED')).toBe(true);
      const letters = await a.dataSource.query(`SELECT count(*) AS n FROM dead_letter`);
      expect(letters[0].n).toBe(0);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('should share the work of one consumer group between two replicas on the Redis bus', async () => {
    const stream = `test:recorder:${randomUUID()}`;
    const env = {
      ...RECORDER_ENV,
      PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
      PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
      PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '20',
    };
    const a = await createTestApp({ env });
    const b = await createTestApp({ env, databaseUrl: a.databaseUrl });
    const admin = new Redis('redis://127.0.0.1:6379');
    try {
      const flowRunId = await insertFlowRun(a.dataSource);
      const ids: string[] = [];
      const events: ReceivedEvent[] = [];
      for (let i = 0; i < 100; i++) {
        const id = randomUUID();
        ids.push(id);
        events.push(...runLifecycle(id, i % 2 ? flowRunId : null, i, 'redis', String(i)));
      }
      // interleave so that a run's events are spread over requests, batches and both recorders
      const order = [0, 1, 2].flatMap((k) => events.filter((_, i) => i % 3 === k));
      for (let i = 0; i < order.length; i += 25) {
        await post(i % 50 ? a : b, order.slice(i, i + 25));
      }
      await expectEventually(
        async () => {
          const rows = await a.dataSource.query<{ id: string; state_type: string; n: unknown }[]>(
            `SELECT id, state_type, (SELECT count(*) FROM task_run_state s WHERE s.task_run_id = r.id) AS n
               FROM task_run r WHERE task_key = 'redis'`,
          );
          expect(rows).toHaveLength(100);
          expect(rows.every((r) => r.state_type === 'COMPLETED' && r.n === 3)).toBe(true);
        },
        { timeoutMs: 20_000 },
      );
      const recorded = async (t: TestApp) =>
        (
          await t.app
            .get(MetricsService)
            .registry.getSingleMetric('prefect_task_run_recorder_events_recorded_total')!
            .get()
        ).values[0]?.value ?? 0;
      // both replicas' recorders took part, and together they recorded each event once
      expect(await recorded(a)).toBeGreaterThan(0);
      expect(await recorded(b)).toBeGreaterThan(0);
      expect((await recorded(a)) + (await recorded(b))).toBe(300);
      const [{ n }] = await a.dataSource.query(`SELECT count(*) AS n FROM dead_letter`);
      expect(n).toBe(0);
    } finally {
      await b.close();
      await a.close();
      const keys = await admin.keys(`${stream}*`);
      if (keys.length) {
        await admin.del(...keys);
      }
      await admin.quit();
    }
  });
});
