import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { TaskRunsService } from '../../src/task-runs/task-runs.service';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * Group commit (docs/performance.md): concurrent creates and state changes share transactions, yet each request
 * gets exactly the answer it would get alone, and a bad request never fails its neighbours.
 */
describe('task runs: group commit', () => {
  let t: TestApp;
  let service: TaskRunsService;
  const api = () => request(t.baseUrl);
  let flowRunId: string;

  beforeAll(async () => {
    t = await createTestApp();
    service = t.app.get(TaskRunsService);
    const flow = await api().post('/api/flows/').send({ name: 'gc-flow' }).expect(201);
    const fr = await api()
      .post('/api/flow_runs/')
      .send({ flow_id: flow.body.id, state: { type: 'RUNNING' } })
      .expect(201);
    flowRunId = fr.body.id;
  });

  afterAll(async () => {
    await t.close();
  });

  const create = (body: Record<string, unknown>) => api().post('/api/task_runs/').send(body);

  it('should create one run per natural key without a flow run, whichever groups the duplicates land in', async () => {
    // No unique index covers a NULL flow_run_id, so two groups in flight could both pass the NOT EXISTS check.
    for (let round = 0; round < 30; round++) {
      const body = { task_key: 'gc-race-noflow', dynamic_key: String(round) };
      const answers = await Promise.all(Array.from({ length: 8 }, () => create(body)));
      expect({
        round,
        created: answers.filter((a) => a.status === 201).length,
        existing: answers.filter((a) => a.status === 200).length,
        ids: new Set(answers.map((a) => (a.body as { id: string }).id)).size,
      }).toEqual({ round, created: 1, existing: 7, ids: 1 });
    }
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM task_run WHERE task_key = 'gc-race-noflow' AND flow_run_id IS NULL`,
    );
    expect(n).toBe(30);
  });

  it('should answer concurrent creates from their own rows, duplicates 200 with the one run, a bad neighbour alone', async () => {
    // The bad one names a flow run that does not exist: alone it fails on the foreign key.
    const bad = { flow_run_id: randomUUID(), task_key: 'gc-bad', dynamic_key: '0' };
    const alone = await create({ ...bad, dynamic_key: 'alone' });
    expect(alone.status).toBeGreaterThanOrEqual(400);

    const groupsBefore = service.creates.groups;
    const itemsBefore = service.creates.items;
    const distinct = Array.from({ length: 40 }, (_, i) => ({
      flow_run_id: i % 2 ? flowRunId : undefined,
      task_key: 'gc-create',
      dynamic_key: String(i),
      tags: [`t${i}`],
      labels: { n: i },
    }));
    const dup = { flow_run_id: flowRunId, task_key: 'gc-dup', dynamic_key: '0' };
    const dupNoFlow = { task_key: 'gc-dup-noflow', dynamic_key: '0' };
    const bodies: Record<string, unknown>[] = [
      ...distinct,
      ...Array.from({ length: 8 }, () => dup),
      ...Array.from({ length: 8 }, () => dupNoFlow),
      bad,
    ];
    const answers = await Promise.all(bodies.map((b) => create(b)));

    // The bad neighbour answers as it does alone; everyone else is unaffected.
    expect(answers[bodies.length - 1].status).toBe(alone.status);
    expect(answers[bodies.length - 1].body).toEqual(alone.body);
    distinct.forEach((b, i) => {
      expect(answers[i].status).toBe(201);
      expect(answers[i].body).toMatchObject({
        task_key: 'gc-create',
        dynamic_key: b.dynamic_key,
        flow_run_id: b.flow_run_id ?? null,
        tags: b.tags,
        state_type: 'PENDING',
        state: { type: 'PENDING', name: 'Pending' },
      });
      expect(answers[i].body.labels).toMatchObject({ n: i });
    });
    expect(new Set(answers.slice(0, 40).map((a) => (a.body as { id: string }).id)).size).toBe(40);
    for (const [from, to] of [
      [40, 48],
      [48, 56],
    ]) {
      const group = answers.slice(from, to);
      expect(group.filter((a) => a.status === 201)).toHaveLength(1);
      expect(group.filter((a) => a.status === 200)).toHaveLength(7);
      expect(new Set(group.map((a) => (a.body as { id: string }).id)).size).toBe(1);
    }
    // Each answer is the stored run.
    for (const a of answers.slice(0, 56)) {
      const stored = await api().get(`/api/task_runs/${a.body.id}`).expect(200);
      expect({ ...a.body, estimated_start_time_delta: 0, estimated_run_time: 0 }).toEqual({
        ...stored.body,
        estimated_start_time_delta: 0,
        estimated_run_time: 0,
      });
    }
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM task_run WHERE task_key IN ('gc-create', 'gc-dup', 'gc-dup-noflow', 'gc-bad')`,
    );
    expect(n).toBe(42);
    // They really were grouped: fewer transactions than requests.
    expect(service.creates.items - itemsBefore).toBeGreaterThanOrEqual(bodies.length);
    expect(service.creates.groups - groupsBefore).toBeLessThan(bodies.length);
  });

  it('should orchestrate concurrent set_state of distinct runs each on its own run, a missing one 404 alone', async () => {
    const runs = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        create({ task_key: 'gc-state', dynamic_key: String(i) }).expect(201),
      ),
    );
    const ids = runs.map((r) => r.body.id as string);
    const groupsBefore = service.transitions.groups;
    const missing = randomUUID();
    const answers = await Promise.all([
      ...ids.map((id) =>
        api()
          .post(`/api/task_runs/${id}/set_state`)
          .send({ state: { type: 'RUNNING' } }),
      ),
      api()
        .post(`/api/task_runs/${missing}/set_state`)
        .send({ state: { type: 'RUNNING' } }),
    ]);
    expect(answers[30].status).toBe(404);
    expect(answers[30].body).toEqual({ exception_message: `Task run with id ${missing} not found` });
    for (let i = 0; i < 30; i++) {
      expect(answers[i].status).toBe(201);
      expect(answers[i].body).toMatchObject({ status: 'ACCEPT', state: { type: 'RUNNING' } });
      const run = await api().get(`/api/task_runs/${ids[i]}`).expect(200);
      expect(run.body).toMatchObject({
        state_type: 'RUNNING',
        run_count: 1,
        state: { id: answers[i].body.state.id },
      });
      expect(run.body.start_time).toBe(answers[i].body.state.timestamp);
      const states = await api().get(`/api/task_run_states/?task_run_id=${ids[i]}`).expect(200);
      expect((states.body as { type: string }[]).map((s) => s.type)).toEqual(['PENDING', 'RUNNING']);
    }
    expect(service.transitions.groups - groupsBefore).toBeLessThan(31);

    // A rejected neighbour (a completed run with a persisted result) does not hold back the others; results
    // go to artifacts, each to its own run.
    await api()
      .post(`/api/task_runs/${ids[0]}/set_state`)
      .send({ state: { type: 'COMPLETED', data: { storage_key: 'first' } } })
      .expect(201);
    const next = await Promise.all(
      ids.map((id) =>
        api()
          .post(`/api/task_runs/${id}/set_state`)
          .send({ state: { type: 'COMPLETED', data: { storage_key: id } } }),
      ),
    );
    expect(next[0].status).toBe(200);
    expect(next[0].body.status).toBe('REJECT');
    expect(next[0].body.state.data).toEqual({ storage_key: 'first' });
    for (let i = 1; i < 30; i++) {
      expect(next[i].status).toBe(201);
      expect(next[i].body.status).toBe('ACCEPT');
      const run = await api().get(`/api/task_runs/${ids[i]}`).expect(200);
      expect(run.body.state).toMatchObject({ type: 'COMPLETED', data: { storage_key: ids[i] } });
    }
  });

  it('should serialise concurrent set_state of one run: one Completed with a result is accepted, the rest see it', async () => {
    const run = (await create({ task_key: 'gc-same', dynamic_key: '0' }).expect(201)).body;
    await api()
      .post(`/api/task_runs/${run.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        api()
          .post(`/api/task_runs/${run.id}/set_state`)
          .send({ state: { type: 'COMPLETED', data: { storage_key: 'same' } } }),
      ),
    );
    const accepted = answers.filter((a) => a.body.status === 'ACCEPT');
    expect(accepted).toHaveLength(1);
    expect(answers.filter((a) => a.body.status === 'REJECT')).toHaveLength(9);
    const states = await api().get(`/api/task_run_states/?task_run_id=${run.id}`).expect(200);
    expect((states.body as { type: string }[]).map((s) => s.type)).toEqual([
      'PENDING',
      'RUNNING',
      'COMPLETED',
    ]);
    const stored = await api().get(`/api/task_runs/${run.id}`).expect(200);
    expect(stored.body.state.id).toBe(accepted[0].body.state.id);
  });

  it('should keep tag concurrency limits exact when grouped runs with and without limited tags start together', async () => {
    await api()
      .post('/api/concurrency_limits/')
      .send({ tag: 'gc-limited', concurrency_limit: 3 })
      .expect(201);
    const make = (tag: string, n: number) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          create({ task_key: `gc-${tag}`, dynamic_key: String(i), tags: [tag] }).expect(201),
        ),
      );
    const limited = (await make('gc-limited', 10)).map((r) => r.body.id as string);
    const free = (await make('gc-free', 10)).map((r) => r.body.id as string);
    const groupsBefore = service.transitions.groups;
    const answers = await Promise.all(
      [...limited, ...free].map((id) =>
        api()
          .post(`/api/task_runs/${id}/set_state`)
          .send({ state: { type: 'RUNNING' } }),
      ),
    );
    expect(service.transitions.groups - groupsBefore).toBeLessThan(20);
    const statuses = answers.map((a) => (a.body as { status: string }).status);
    expect(statuses.slice(0, 10).filter((x) => x === 'ACCEPT')).toHaveLength(3);
    expect(statuses.slice(0, 10).filter((x) => x === 'WAIT')).toHaveLength(7);
    expect(statuses.slice(10)).toEqual(Array(10).fill('ACCEPT'));
    const holders = (await api().get('/api/concurrency_limits/tag/gc-limited').expect(200)).body.active_slots;
    const running = limited.filter((_, i) => statuses[i] === 'ACCEPT');
    expect([...holders].sort()).toEqual([...running].sort());
    // Finishing them (grouped too) gives the slots back.
    await Promise.all(
      running.map((id) =>
        api()
          .post(`/api/task_runs/${id}/set_state`)
          .send({ state: { type: 'COMPLETED' } })
          .expect(201),
      ),
    );
    expect((await api().get('/api/concurrency_limits/tag/gc-limited').expect(200)).body.active_slots).toEqual(
      [],
    );
  });

  it('should write nothing of a create whose natural key exists, not even a rule that already ran (its COMMIT goes out with the INSERT)', async () => {
    await api().post('/api/concurrency_limits/').send({ tag: 'gc-held', concurrency_limit: 2 }).expect(201);
    const body = { task_key: 'gc-held-task', dynamic_key: '0', tags: ['gc-held'] };
    const run = (await create(body).expect(201)).body;
    await api()
      .post(`/api/task_runs/${run.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    const slots = async () =>
      (
        (await api().get('/api/concurrency_limits/tag/gc-held').expect(200)).body as {
          active_slots: string[];
        }
      ).active_slots;
    expect(await slots()).toEqual([run.id]);
    // The same key (and id) proposed as COMPLETED: the create's rules release the id's slots before the INSERT
    // finds the key taken; the statement must fail so that the COMMIT sent behind it rolls everything back.
    const again = await Promise.all(
      [0, 1, 2].map(() => create({ ...body, id: run.id, state: { type: 'COMPLETED' } }).expect(200)),
    );
    for (const a of again) {
      expect(a.body.id).toBe(run.id);
      expect(a.body.state.type).toBe('RUNNING');
    }
    expect(await slots()).toEqual([run.id]);
    const states = (await api().get(`/api/task_run_states/?task_run_id=${run.id}`).expect(200)).body as {
      type: string;
    }[];
    expect(states.map((st) => st.type)).toEqual(['PENDING', 'RUNNING']);
  });
});
