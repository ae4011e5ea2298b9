import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';

const MISSING = '00000000-0000-4000-8000-000000000000';

describe('minimal flows and flow runs', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);
  let flowId: string;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('should create a flow (201) and return the same flow by name (200)', async () => {
    const created = await api()
      .post('/api/flows/')
      .send({ name: 'my-flow', tags: ['t'], labels: { a: 'b' } })
      .expect(201);
    expect(created.body).toMatchObject({ name: 'my-flow', tags: ['t'], labels: { a: 'b' } });
    flowId = created.body.id;
    const again = await api().post('/api/flows/').send({ name: 'my-flow' }).expect(200);
    expect(again.body.id).toBe(flowId);
    await api().post('/api/flows/').send({}).expect(422);
    await api().post('/api/flows/').send({ name: 'x', bogus: 1 }).expect(422);
  });

  it('should create a flow run in Pending with flow labels, and read it', async () => {
    const fr = await api()
      .post('/api/flow_runs/')
      .send({ flow_id: flowId, labels: { c: 'd' } })
      .expect(201);
    expect(fr.body).toMatchObject({
      flow_id: flowId,
      state_type: 'PENDING',
      state_name: 'Pending',
      run_count: 0,
      labels: { a: 'b', c: 'd', 'prefect.flow.id': flowId },
      state: { type: 'PENDING', state_details: { flow_run_id: fr.body.id } },
    });
    expect(fr.body.name).toMatch(/^[a-z]+-[a-z]+$/);
    expect((await api().get(`/api/flow_runs/${fr.body.id}`).expect(200)).body).toEqual(fr.body);
  });

  it('should honour idempotency keys (200) and refuse bad input', async () => {
    const first = await api()
      .post('/api/flow_runs/')
      .send({ flow_id: flowId, idempotency_key: 'once' })
      .expect(201);
    const again = await api()
      .post('/api/flow_runs/')
      .send({ flow_id: flowId, idempotency_key: 'once' })
      .expect(200);
    expect(again.body.id).toBe(first.body.id);
    await api().post('/api/flow_runs/').send({}).expect(422);
    await api().post('/api/flow_runs/').send({ flow_id: 'nope' }).expect(422);
    await api().post('/api/flow_runs/').send({ flow_id: MISSING }).expect(409);
  });

  it('should apply the global transforms on set_state', async () => {
    const fr = (await api().post('/api/flow_runs/').send({ flow_id: flowId }).expect(201)).body;
    const running = await api()
      .post(`/api/flow_runs/${fr.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    expect(running.body).toMatchObject({
      status: 'ACCEPT',
      details: { type: 'accept_details' },
      state: { type: 'RUNNING' },
    });
    await api()
      .post(`/api/flow_runs/${fr.id}/set_state`)
      .send({ state: { type: 'COMPLETED' } })
      .expect(201);
    const after = (await api().get(`/api/flow_runs/${fr.id}`)).body;
    expect(after).toMatchObject({
      state_type: 'COMPLETED',
      run_count: 1,
      start_time: running.body.state.timestamp,
    });
    expect(after.end_time).toBe(after.state.timestamp);
    expect(after.total_run_time).toBeGreaterThan(0);
    await api()
      .post(`/api/flow_runs/${fr.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    expect((await api().get(`/api/flow_runs/${fr.id}`)).body).toMatchObject({ run_count: 2, end_time: null });
    await api()
      .post(`/api/flow_runs/${MISSING}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(404);
    await api()
      .post(`/api/flow_runs/${fr.id}/set_state`)
      .send({ state: { type: 'NOPE' } })
      .expect(422);
  });

  it('should delete a flow run with its task runs (204), then 404', async () => {
    const fr = (await api().post('/api/flow_runs/').send({ flow_id: flowId }).expect(201)).body;
    const tr = (
      await api()
        .post('/api/task_runs/')
        .send({ flow_run_id: fr.id, task_key: 'k', dynamic_key: '0' })
        .expect(201)
    ).body;
    await api().delete(`/api/flow_runs/${fr.id}`).expect(204);
    await api().get(`/api/flow_runs/${fr.id}`).expect(404);
    await api().get(`/api/task_runs/${tr.id}`).expect(404);
    expect((await api().delete(`/api/flow_runs/${fr.id}`).expect(404)).body).toEqual({
      detail: 'Flow run not found',
    });
    await api().get('/api/flow_runs/not-a-uuid').expect(404);
  });
});
