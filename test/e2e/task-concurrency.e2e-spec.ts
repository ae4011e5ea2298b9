import request from 'supertest';
import { createTaskRun } from '../factories/task-run.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';

/** Tag concurrency enforced by the task policies through `POST /api/task_runs/{id}/set_state` (docs/reference.md §4.2–§4.4). */
describe('tag concurrency in the task policy', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);

  beforeAll(async () => {
    t = await createTestApp({ env: { DATABASE_POOL_SIZE: '20' } });
  });

  afterAll(async () => {
    await t.close();
  });

  const createRun = async (tags: string[], extra: Record<string, unknown> = {}): Promise<string> =>
    (await createTaskRun(t.baseUrl, { tags, ...extra })).id;
  const setState = (id: string, state: Record<string, unknown>, force?: boolean) =>
    api()
      .post(`/api/task_runs/${id}/set_state`)
      .send(force === undefined ? { state } : { state, force });
  const holders = async (tag: string): Promise<string[]> =>
    ((await api().get(`/api/concurrency_limits/tag/${tag}`).expect(200)).body as { active_slots: string[] })
      .active_slots;
  const tagLimit = (tag: string, limit: number) =>
    api().post('/api/concurrency_limits/').send({ tag, concurrency_limit: limit }).expect(201);

  it('should ACCEPT exactly 5 of 50 concurrent RUNNING proposals against a limit of 5; the rest WAIT', async () => {
    await tagLimit('race', 5);
    const ids = await Promise.all(Array.from({ length: 50 }, () => createRun(['race', 'other'])));
    const responses = await Promise.all(ids.map((id) => setState(id, { type: 'RUNNING' })));
    const accepted = ids.filter((_, i) => responses[i].body.status === 'ACCEPT');
    const waiting = responses.filter((r) => r.body.status === 'WAIT');
    expect(accepted).toHaveLength(5);
    expect(waiting).toHaveLength(45);
    for (const r of waiting) {
      expect(r.status).toBe(200);
      expect(r.body.details).toMatchObject({
        type: 'wait_details',
        reason: 'Concurrency limit reached for tags: race',
      });
      // default avg_slot_occupancy_seconds 2 → round(clamped Poisson in [1.5, 2.6])
      expect([2, 3]).toContain(r.body.details.delay_seconds);
      expect(r.body.state.type).toBe('PENDING');
    }
    expect((await holders('race')).sort()).toEqual([...accepted].sort());
    const v2 = await api().get('/api/v2/concurrency_limits/tag:race').expect(200);
    expect(v2.body.active_slots).toBe(5);

    // release on completion frees a slot for a waiting run
    const done = await setState(accepted[0], { type: 'COMPLETED' }).expect(201);
    expect(done.body.status).toBe('ACCEPT');
    expect(await holders('race')).not.toContain(accepted[0]);
    const late = ids.find((id) => !accepted.includes(id))!;
    expect((await setState(late, { type: 'RUNNING' }).expect(201)).body.status).toBe('ACCEPT');
    expect(await holders('race')).toHaveLength(5);
    expect(
      (
        await setState(
          ids.find((id) => !accepted.includes(id) && id !== late)!,
          { type: 'RUNNING' },
        )
      ).body.status,
    ).toBe('WAIT');
  });

  it('should ABORT a RUNNING proposal on a zero limit with upstream text', async () => {
    await tagLimit('zero', 0);
    const id = await createRun(['zero']);
    const res = await setState(id, { type: 'RUNNING' }).expect(200);
    expect(res.body).toMatchObject({
      status: 'ABORT',
      details: {
        type: 'abort_details',
        reason: 'The concurrency limit on tag "zero" is 0 and will deadlock if the task tries to run again.',
      },
      state: { type: 'PENDING' },
    });
  });

  it('should take no second slot on a restarted RUNNING and keep the slot through CANCELLING', async () => {
    await tagLimit('one', 1);
    const [a, b] = [await createRun(['one']), await createRun(['one'])];
    expect((await setState(a, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    expect((await setState(a, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    expect(await holders('one')).toEqual([a]);
    expect((await setState(b, { type: 'RUNNING' })).body.status).toBe('WAIT');

    expect((await setState(a, { type: 'CANCELLING' })).body.status).toBe('ACCEPT');
    expect(await holders('one')).toEqual([a]);
    expect((await setState(a, { type: 'CANCELLED' })).body.status).toBe('ACCEPT');
    expect(await holders('one')).toEqual([]);
    expect((await setState(b, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
  });

  it('should release through a rejection (FAILED rejected to AwaitingRetry)', async () => {
    await tagLimit('retry', 1);
    const id = await createRun(['retry'], { empirical_policy: { retries: 2 } });
    expect((await setState(id, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    const res = await setState(id, { type: 'FAILED' });
    expect(res.body).toMatchObject({ status: 'REJECT', state: { type: 'SCHEDULED', name: 'AwaitingRetry' } });
    expect(await holders('retry')).toEqual([]);
  });

  it('should return the slot when a later rule makes the transition wait (fizzle)', async () => {
    await tagLimit('later', 1);
    const future = new Date(Date.now() + 3600_000).toISOString();
    const id = await createRun(['later'], {
      state: { type: 'SCHEDULED', state_details: { scheduled_time: future } },
    });
    const res = await setState(id, { type: 'RUNNING' });
    expect(res.body).toMatchObject({
      status: 'WAIT',
      details: { reason: 'Scheduled time is in the future' },
    });
    expect(await holders('later')).toEqual([]);
    expect((await api().get('/api/v2/concurrency_limits/tag:later')).body.active_slots).toBe(0);
  });

  it('should keep the slot when the transition is nullified by ABORT', async () => {
    await tagLimit('keep', 1);
    const id = await createRun(['keep']);
    expect((await setState(id, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    // deferred → BackgroundTaskPolicy, whose PreventPendingTransitions aborts RUNNING → PENDING
    const res = await setState(id, { type: 'PENDING', state_details: { deferred: true } });
    expect(res.body.status).toBe('ABORT');
    expect(await holders('keep')).toEqual([id]);
  });

  it('should release on a forced transition (MinimalTaskPolicy)', async () => {
    await tagLimit('force', 1);
    const id = await createRun(['force']);
    expect((await setState(id, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    expect((await setState(id, { type: 'COMPLETED' }, true)).body.status).toBe('ACCEPT');
    expect(await holders('force')).toEqual([]);
  });

  it('should enforce a legacy v1 limit (no v2 limit for the tag) with upstream wait reason', async () => {
    await t.dataSource.query(`INSERT INTO concurrency_limit (tag, concurrency_limit) VALUES ('legacy', 1)`);
    const [a, b] = [await createRun(['legacy']), await createRun(['legacy'])];
    expect((await setState(a, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    const res = await setState(b, { type: 'RUNNING' });
    expect(res.body).toMatchObject({
      status: 'WAIT',
      details: { delay_seconds: 10, reason: 'Concurrency limit for the legacy tag has been reached' },
    });
    expect((await setState(a, { type: 'COMPLETED' })).body.status).toBe('ACCEPT');
    expect((await setState(b, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    expect(await holders('legacy')).toEqual([b]);
  });

  it('should give back the slots of a RUNNING run that is deleted', async () => {
    await tagLimit('gone', 1);
    await t.dataSource.query(`INSERT INTO concurrency_limit (tag, concurrency_limit) VALUES ('gone-v1', 1)`);
    const [a, b] = [await createRun(['gone', 'gone-v1']), await createRun(['gone', 'gone-v1'])];
    expect((await setState(a, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
    expect((await setState(b, { type: 'RUNNING' })).body.status).toBe('WAIT');
    await api().delete(`/api/task_runs/${a}`).expect(204);
    expect(await holders('gone')).toEqual([]);
    expect(await holders('gone-v1')).toEqual([]);
    expect((await api().get('/api/v2/concurrency_limits/tag:gone')).body.active_slots).toBe(0);
    expect((await setState(b, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
  });

  it('should let runs without limited tags through untouched', async () => {
    const id = await createRun(['free']);
    expect((await setState(id, { type: 'RUNNING' })).body.status).toBe('ACCEPT');
  });
});
