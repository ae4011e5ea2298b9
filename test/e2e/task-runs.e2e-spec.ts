import http from 'node:http';
import request from 'supertest';
import { createTaskRun } from '../factories/task-run.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';

const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const MISSING = '00000000-0000-4000-8000-000000000000';

describe('task runs API', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);
  let flowRunId: string;

  beforeAll(async () => {
    t = await createTestApp();
    const flow = await api()
      .post('/api/flows/')
      .send({ name: 'tr-flow', labels: { team: 'data' } })
      .expect(201);
    const fr = await api()
      .post('/api/flow_runs/')
      .send({ flow_id: flow.body.id, state: { type: 'RUNNING' }, labels: { env: 'prod' } })
      .expect(201);
    flowRunId = fr.body.id;
  });

  afterAll(async () => {
    await t.close();
  });

  describe('POST /task_runs/', () => {
    it('should create a run in Pending with µs timestamps and every TaskRun field', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'create', dynamic_key: '0', tags: ['a'] });
      expect(Object.keys(run).sort()).toEqual(
        [
          'id',
          'created',
          'updated',
          'name',
          'flow_run_id',
          'task_key',
          'dynamic_key',
          'cache_key',
          'cache_expiration',
          'task_version',
          'empirical_policy',
          'tags',
          'labels',
          'task_inputs',
          'state_id',
          'state_type',
          'state_name',
          'state',
          'run_count',
          'flow_run_run_count',
          'expected_start_time',
          'next_scheduled_start_time',
          'start_time',
          'end_time',
          'total_run_time',
          'estimated_run_time',
          'estimated_start_time_delta',
        ].sort(),
      );
      expect(run).toMatchObject({
        task_key: 'create',
        state_type: 'PENDING',
        state_name: 'Pending',
        flow_run_id: null,
        run_count: 0,
        total_run_time: 0,
        empirical_policy: {
          max_retries: 0,
          retry_delay_seconds: 0,
          retries: null,
          retry_delay: null,
          retry_jitter_factor: null,
        },
        labels: {},
      });
      expect(run.name).toMatch(/^[a-z]+-[a-z]+$/);
      expect(run.created).toMatch(TS_RE);
      expect(run.state?.timestamp).toMatch(TS_RE);
      expect(run.state?.state_details.task_run_id).toBe(run.id);
      expect(run.expected_start_time).toBe(run.state?.timestamp);
      expect(Object.keys(run.state ?? {}).sort()).toEqual([
        'data',
        'id',
        'message',
        'name',
        'state_details',
        'timestamp',
        'type',
      ]);
      expect(run.state?.state_details).toMatchObject({
        flow_run_id: null,
        task_run_id: run.id,
        scheduled_time: null,
        deferred: false,
        untrackable_result: false,
        pause_reschedule: false,
        cache_key: null,
        retriable: null,
        task_parameters_id: null,
      });
    });

    it('should answer 200 with the existing run for the same natural key, without touching its state', async () => {
      const first = await createTaskRun(t.baseUrl, {
        flow_run_id: flowRunId,
        task_key: 'idem',
        dynamic_key: '1',
      });
      const again = await createTaskRun(
        t.baseUrl,
        { flow_run_id: flowRunId, task_key: 'idem', dynamic_key: '1', state: { type: 'RUNNING' } },
        200,
      );
      expect(again.id).toBe(first.id);
      expect(again.state_id).toBe(first.state_id);
      const flowless = await createTaskRun(t.baseUrl, { task_key: 'idem', dynamic_key: 'x' });
      const flowlessAgain = await createTaskRun(t.baseUrl, { task_key: 'idem', dynamic_key: 'x' }, 200);
      expect(flowlessAgain.id).toBe(flowless.id);
    });

    it('should answer 409 for a known id with another natural key, and for a missing flow run', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'clash', dynamic_key: '0' });
      const res = await api()
        .post('/api/task_runs/')
        .send({ id: run.id, task_key: 'clash', dynamic_key: '1' })
        .expect(409);
      expect(res.body.detail).toMatch(/Data integrity conflict/);
      await api()
        .post('/api/task_runs/')
        .send({ id: run.id, flow_run_id: flowRunId, task_key: 'clash', dynamic_key: '2' })
        .expect(409);
      await api()
        .post('/api/task_runs/')
        .send({ flow_run_id: MISSING, task_key: 'k', dynamic_key: '0' })
        .expect(409);
    });

    it('should honour a client id and initial state', async () => {
      const id = '3f1b1f4e-8f2a-4c39-9d51-6a2f1b8c9d00';
      const run = await createTaskRun(t.baseUrl, {
        id,
        task_key: 'with-state',
        dynamic_key: '0',
        state: { type: 'SCHEDULED', name: 'Later' },
      });
      expect(run).toMatchObject({ id, state_type: 'SCHEDULED', state_name: 'Later' });
      expect(run.next_scheduled_start_time).toBe(run.state?.state_details.scheduled_time);
    });

    it('should inherit the flow run labels, add prefect.flow-run.id and let client labels win', async () => {
      const run = await createTaskRun(t.baseUrl, {
        flow_run_id: flowRunId,
        task_key: 'labels',
        dynamic_key: '0',
        labels: { env: 'dev', n: 1 },
      });
      expect(run.labels).toMatchObject({
        team: 'data',
        'prefect.flow-run.id': flowRunId,
        env: 'dev',
        n: 1,
      });
      expect(run.labels?.['prefect.flow.id']).toBeDefined();
    });

    it('should migrate deprecated retry settings', async () => {
      const run = await createTaskRun(t.baseUrl, {
        task_key: 'policy',
        dynamic_key: '0',
        empirical_policy: { max_retries: 2, retry_delay_seconds: 3 },
      });
      expect(run.empirical_policy).toMatchObject({ retries: 2, retry_delay: 3 });
    });

    it.each([
      ['an empty body', {}, ['body', 'task_key']],
      ['an unknown key', { task_key: 'k', dynamic_key: '0', bogus: 1 }, ['body', 'bogus']],
      [
        'a bad state type',
        { task_key: 'k', dynamic_key: '0', state: { type: 'NOPE' } },
        ['body', 'state', 'type'],
      ],
      [
        'a state with a timestamp',
        { task_key: 'k', dynamic_key: '0', state: { type: 'PENDING', timestamp: '2026-01-01T00:00:00Z' } },
        ['body', 'state', 'timestamp'],
      ],
      [
        'a bad flow_run_id',
        { task_key: 'k', dynamic_key: '0', flow_run_id: 'nope' },
        ['body', 'flow_run_id'],
      ],
      ['bad labels', { task_key: 'k', dynamic_key: '0', labels: { a: { b: 1 } } }, ['body', 'labels']],
      [
        'a bad cache_expiration',
        { task_key: 'k', dynamic_key: '0', cache_expiration: 'soon' },
        ['body', 'cache_expiration'],
      ],
      [
        'a too-long cache key',
        { task_key: 'k', dynamic_key: '0', cache_key: 'x'.repeat(2001) },
        ['body', 'cache_key'],
      ],
      [
        'too many retry delays',
        { task_key: 'k', dynamic_key: '0', empirical_policy: { retry_delay: new Array(51).fill(1) } },
        ['body', 'empirical_policy', 'retry_delay'],
      ],
      [
        'a negative jitter',
        { task_key: 'k', dynamic_key: '0', empirical_policy: { retry_jitter_factor: -1 } },
        ['body', 'empirical_policy', 'retry_jitter_factor'],
      ],
      [
        'a bad scheduled_time',
        {
          task_key: 'k',
          dynamic_key: '0',
          state: { type: 'SCHEDULED', state_details: { scheduled_time: 'x' } },
        },
        ['body', 'state', 'state_details', 'scheduled_time'],
      ],
    ])('should answer 422 naming the field for %s', async (_what, body, loc) => {
      const res = await api().post('/api/task_runs/').send(body).expect(422);
      expect(res.body.exception_message).toBe('Invalid request received.');
      expect((res.body.exception_detail as { loc: unknown }[]).map((d) => d.loc)).toContainEqual(loc);
    });

    it('should accept JSON without a Content-Type header', async () => {
      const url = new URL(t.baseUrl);
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { host: url.hostname, port: url.port, path: '/api/task_runs/', method: 'POST' },
          (res) => {
            let b = '';
            res.on('data', (c: Buffer) => (b += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ task_key: 'no-content-type', dynamic_key: '0' }));
      });
      expect(status).toBe(201);
      expect(JSON.parse(body)).toMatchObject({ task_key: 'no-content-type' });
    });

    it('should answer 422, not 500, for values the database cannot store', async () => {
      const res = await api()
        .post('/api/task_runs/')
        .send({ task_key: 'nul\u0000byte', dynamic_key: '0' })
        .expect(422);
      expect(res.body.exception_detail).toEqual([
        expect.objectContaining({ loc: ['body', 'task_key'], type: 'string_nul' }),
      ]);
      await api().post('/api/task_runs/').send([1, 2]).expect(422);
      await api().post('/api/task_runs/').set('content-type', 'application/json').send('null').expect(422);
    });

    it('should carry the exact messages for cache keys and retry settings', async () => {
      const long = await api()
        .post('/api/task_runs/')
        .send({ task_key: 'k', dynamic_key: '0', cache_key: 'x'.repeat(2001) });
      expect(long.body.exception_detail[0].msg).toContain(
        'Cache key exceeded maximum allowed length of 2000 characters.',
      );
      const delays = await api()
        .post('/api/task_runs/')
        .send({ task_key: 'k', dynamic_key: '0', empirical_policy: { retry_delay: new Array(51).fill(1) } });
      expect(delays.body.exception_detail[0].msg).toContain(
        'Can not configure more than 50 retry delays per task.',
      );
      const jitter = await api()
        .post('/api/task_runs/')
        .send({ task_key: 'k', dynamic_key: '0', empirical_policy: { retry_jitter_factor: -0.5 } });
      expect(jitter.body.exception_detail[0].msg).toContain('`retry_jitter_factor` must be >= 0.');
    });
  });

  describe('GET / PATCH / DELETE /task_runs/{id}', () => {
    it('should read a run and answer 404 for unknown or non-UUID ids', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'read', dynamic_key: '0' });
      const res = await api().get(`/api/task_runs/${run.id}`).expect(200);
      expect(res.body).toMatchObject({ id: run.id, state: { id: run.state_id, type: 'PENDING' } });
      expect((await api().get(`/api/task_runs/${MISSING}`).expect(404)).body).toEqual({
        detail: 'Task not found',
      });
      await api().get('/api/task_runs/not-a-uuid').expect(404);
    });

    it('should rename with PATCH (204) and answer 404 for an unknown run', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'patch', dynamic_key: '0' });
      await api().patch(`/api/task_runs/${run.id}`).send({ name: 'renamed' }).expect(204);
      const after = (await api().get(`/api/task_runs/${run.id}`).expect(200)).body;
      expect(after.name).toBe('renamed');
      expect(after.updated > run.updated).toBe(true);
      expect((await api().patch(`/api/task_runs/${MISSING}`).send({ name: 'x' }).expect(404)).body).toEqual({
        detail: 'Task run not found',
      });
      await api().patch(`/api/task_runs/${run.id}`).send({ task_key: 'nope' }).expect(422);
    });

    it('should delete a run with its states (204), then 404', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'delete', dynamic_key: '0' });
      await api().delete(`/api/task_runs/${run.id}`).expect(204);
      await api().get(`/api/task_runs/${run.id}`).expect(404);
      expect((await api().delete(`/api/task_runs/${run.id}`).expect(404)).body).toEqual({
        detail: 'Task not found',
      });
      const states = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM task_run_state WHERE task_run_id = $1`,
        [run.id],
      );
      expect(states[0].n).toBe(0);
    });

    it('should unlink subflows of a deleted run', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'parent', dynamic_key: '0' });
      const [{ flow_id: flowId }] = await t.dataSource.query(`SELECT flow_id FROM flow_run WHERE id = $1`, [
        flowRunId,
      ]);
      const child = (
        await api().post('/api/flow_runs/').send({ flow_id: flowId, parent_task_run_id: run.id }).expect(201)
      ).body;
      await api().delete(`/api/task_runs/${run.id}`).expect(204);
      expect((await api().get(`/api/flow_runs/${child.id}`).expect(200)).body.parent_task_run_id).toBeNull();
    });
  });

  describe('POST /task_runs/{id}/set_state', () => {
    it('should walk Pending → Running → Completed with 201s and keep run fields in step', async () => {
      const run = await createTaskRun(t.baseUrl, {
        flow_run_id: flowRunId,
        task_key: 'walk',
        dynamic_key: '0',
      });
      const running = await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      expect(running.body).toMatchObject({
        status: 'ACCEPT',
        details: { type: 'accept_details' },
        state: { type: 'RUNNING', name: 'Running' },
      });
      const done = await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'COMPLETED', message: 'ok', data: { type: 'unpersisted' } } })
        .expect(201);
      expect(done.body.state).toMatchObject({
        type: 'COMPLETED',
        message: 'ok',
        data: { type: 'unpersisted' },
      });
      const after = (await api().get(`/api/task_runs/${run.id}`)).body;
      expect(after).toMatchObject({
        state_type: 'COMPLETED',
        run_count: 1,
        flow_run_run_count: 1,
        start_time: running.body.state.timestamp,
        end_time: done.body.state.timestamp,
      });
      expect(after.total_run_time).toBeGreaterThan(0);
      expect(after.estimated_run_time).toBe(after.total_run_time);
    });

    it('should store results as artifacts and read them back either way', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'artifact', dynamic_key: '0' });
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      const done = await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({
          state: {
            type: 'COMPLETED',
            data: { type: 'reference', storage_key: 'k1', artifact_key: 'ak', artifact_type: 'result' },
          },
        })
        .expect(201);
      expect(done.body.state.data).toEqual({ type: 'reference', storage_key: 'k1' });
      const [row] = await t.dataSource.query(
        `SELECT s.data, a.key, a.type, a.task_run_id FROM task_run_state s JOIN artifact a ON a.id = s.result_artifact_id WHERE s.id = $1`,
        [done.body.state.id],
      );
      expect(row).toEqual({ data: null, key: 'ak', type: 'result', task_run_id: run.id });
      expect((await api().get(`/api/task_runs/${run.id}`)).body.state.data).toEqual({
        type: 'reference',
        storage_key: 'k1',
      });
      expect((await api().get(`/api/task_run_states/${done.body.state.id}`)).body.data).toEqual({
        type: 'reference',
        storage_key: 'k1',
      });
      // a recorder-written inline result is read from the state row itself
      await t.dataSource.query(`UPDATE task_run_state SET data = '{"inline": true}' WHERE id = $1`, [
        done.body.state.id,
      ]);
      expect((await api().get(`/api/task_run_states/${done.body.state.id}`)).body.data).toEqual({
        inline: true,
      });
    });

    it('should answer 200 with the current state for a rejected rerun of a completed run', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'done-twice', dynamic_key: '0' });
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      const done = await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'COMPLETED', data: { type: 'reference' } } })
        .expect(201);
      const again = await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(200);
      expect(again.body).toEqual({
        state: done.body.state,
        status: 'REJECT',
        details: { type: 'reject_details', reason: 'This run is already completed.' },
      });
    });

    it('should bypass the core rules with force=true (Minimal policy)', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'force', dynamic_key: '0' });
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'COMPLETED', data: { type: 'reference' } } })
        .expect(201);
      const forced = await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' }, force: true })
        .expect(201);
      expect(forced.body.status).toBe('ACCEPT');
      expect(forced.body.state.name).toBe('Running');
    });

    it('should use the Background policy for deferred states (no Pending after Pending)', async () => {
      const run = await createTaskRun(t.baseUrl, {
        task_key: 'deferred',
        dynamic_key: '0',
        state: { type: 'SCHEDULED', state_details: { deferred: true } },
      });
      expect(run.state).toMatchObject({ type: 'SCHEDULED', state_details: { deferred: true } });
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'PENDING', state_details: { deferred: true } } })
        .expect(201);
      const again = await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'PENDING', state_details: { deferred: true } }, force: true })
        .expect(200);
      expect(again.body).toMatchObject({
        status: 'ABORT',
        details: {
          type: 'abort_details',
          reason: 'This run is in a PENDING state and cannot transition to a PENDING state.',
        },
      });
    });

    it('should answer 404 with exception_message for a missing run and 422 for a bad body', async () => {
      const res = await api()
        .post(`/api/task_runs/${MISSING}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(404);
      expect(res.body).toEqual({ exception_message: `Task run with id ${MISSING} not found` });
      const run = await createTaskRun(t.baseUrl, { task_key: 'bad-state', dynamic_key: '0' });
      await api().post(`/api/task_runs/${run.id}/set_state`).send({}).expect(422);
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING', id: MISSING } })
        .expect(422);
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' }, force: 'yes' })
        .expect(422);
    });
  });

  describe('GET /task_run_states', () => {
    it('should list a run’s states by timestamp and read one', async () => {
      const run = await createTaskRun(t.baseUrl, { task_key: 'states', dynamic_key: '0' });
      await api()
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      const states = (await api().get(`/api/task_run_states/?task_run_id=${run.id}`).expect(200)).body as {
        id: string;
        type: string;
        timestamp: string;
      }[];
      expect(states.map((s) => s.type)).toEqual(['PENDING', 'RUNNING']);
      expect(states[0].timestamp < states[1].timestamp).toBe(true);
      expect((await api().get(`/api/task_run_states/${states[1].id}`).expect(200)).body).toEqual(states[1]);
      expect((await api().get(`/api/task_run_states/${MISSING}`).expect(404)).body).toEqual({
        detail: 'Flow run state not found',
      });
      const missing = await api().get('/api/task_run_states/').expect(422);
      expect(missing.body.exception_detail[0].loc).toEqual(['query', 'task_run_id']);
      const bad = await api().get('/api/task_run_states/?task_run_id=nope').expect(422);
      expect(bad.body.exception_detail[0]).toMatchObject({
        loc: ['query', 'task_run_id'],
        type: 'uuid_parsing',
      });
    });
  });

  describe('UI routes', () => {
    it('should read a run with its flow run name', async () => {
      const run = await createTaskRun(t.baseUrl, {
        flow_run_id: flowRunId,
        task_key: 'ui',
        dynamic_key: '0',
      });
      const fr = (await api().get(`/api/flow_runs/${flowRunId}`)).body;
      const res = await api().get(`/api/ui/task_runs/${run.id}`).expect(200);
      expect(res.body).toMatchObject({ id: run.id, flow_run_name: fr.name });
      await api().get(`/api/ui/task_runs/${MISSING}`).expect(404);
    });

    it('should count runs by state with every state type', async () => {
      const res = await api()
        .post('/api/ui/task_runs/count')
        .send({ task_runs: { name: { any_: [] } } })
        .expect(200);
      expect(res.body).toEqual({
        SCHEDULED: 0,
        PENDING: 0,
        RUNNING: 0,
        COMPLETED: 0,
        FAILED: 0,
        CANCELLED: 0,
        CRASHED: 0,
        PAUSED: 0,
        CANCELLING: 0,
      });
      const all = (await api().post('/api/ui/task_runs/count').send({}).expect(200)).body;
      expect(all.PENDING).toBeGreaterThan(0);
    });

    it('should bucket terminal runs for the dashboard and require start_time.after_', async () => {
      const before = new Date(Date.now() - 60_000).toISOString();
      const ok = await createTaskRun(t.baseUrl, { task_key: 'dash', dynamic_key: 'ok' });
      await api()
        .post(`/api/task_runs/${ok.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      await api()
        .post(`/api/task_runs/${ok.id}/set_state`)
        .send({ state: { type: 'COMPLETED' } })
        .expect(201);
      const bad = await createTaskRun(t.baseUrl, { task_key: 'dash', dynamic_key: 'bad' });
      await api()
        .post(`/api/task_runs/${bad.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      await api()
        .post(`/api/task_runs/${bad.id}/set_state`)
        .send({ state: { type: 'CRASHED' } })
        .expect(201);
      const res = await api()
        .post('/api/ui/task_runs/dashboard/counts')
        .send({ task_runs: { start_time: { after_: before }, task_key: undefined } })
        .expect(200);
      expect(res.body).toHaveLength(20);
      const totals = (res.body as { completed: number; failed: number }[]).reduce(
        (a, b) => ({
          completed: a.completed + b.completed,
          failed: a.failed + b.failed,
        }),
        { completed: 0, failed: 0 },
      );
      expect(totals.completed).toBeGreaterThanOrEqual(1);
      expect(totals.failed).toBeGreaterThanOrEqual(1);
      expect(
        (await api().post('/api/ui/task_runs/dashboard/counts').send({ task_runs: {} }).expect(422)).body,
      ).toEqual({
        detail: 'task_runs.start_time.after_ is required',
      });
      await api().post('/api/ui/task_runs/dashboard/counts').send({}).expect(422);
    });
  });
});
