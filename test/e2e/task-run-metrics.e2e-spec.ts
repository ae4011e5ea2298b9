import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';

/** The value of one sample line of the exposition, e.g. `name{a="b"}`; undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const SERIES = [
  'prefect_task_runs_created_total',
  ...['PENDING', 'RUNNING', 'SCHEDULED', 'COMPLETED', 'FAILED'].map(
    (t) => `prefect_task_run_state_transitions_total{state_type="${t}"}`,
  ),
  ...['ACCEPT', 'REJECT', 'WAIT', 'ABORT'].map(
    (d) => `prefect_task_run_orchestration_decisions_total{decision="${d}"}`,
  ),
];

describe('task-run counters on /api/metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  async function scrape(): Promise<Record<string, number | undefined>> {
    const text = (await request(t.baseUrl).get('/api/metrics').expect(200)).text;
    return Object.fromEntries(SERIES.map((s) => [s, sample(text, s)]));
  }

  async function setState(id: string, state: Record<string, unknown>, status: number): Promise<string> {
    const res = await request(t.baseUrl)
      .post(`/api/task_runs/${id}/set_state`)
      .send({ state })
      .expect(status);
    return (res.body as { status: string }).status;
  }

  it('should start every series at 0 and count creations, written states by type and decisions', async () => {
    const before = await scrape();
    for (const series of SERIES) {
      expect(before[series]).toBe(0);
    }

    // A: created PENDING, RUNNING (ACCEPT), FAILED with a retry left → rejected to AwaitingRetry (REJECT).
    const a = await request(t.baseUrl)
      .post('/api/task_runs/')
      .send({ task_key: 'm', dynamic_key: 'a', empirical_policy: { retries: 1 } })
      .expect(201);
    expect(await setState((a.body as { id: string }).id, { type: 'RUNNING' }, 201)).toBe('ACCEPT');
    expect(await setState((a.body as { id: string }).id, { type: 'FAILED' }, 201)).toBe('REJECT');
    // B: created SCHEDULED an hour ahead; RUNNING now must WAIT (no state written).
    const later = new Date(Date.now() + 3600_000).toISOString();
    const b = await request(t.baseUrl)
      .post('/api/task_runs/')
      .send({
        task_key: 'm',
        dynamic_key: 'b',
        state: { type: 'SCHEDULED', state_details: { scheduled_time: later } },
      })
      .expect(201);
    expect(await setState((b.body as { id: string }).id, { type: 'RUNNING' }, 200)).toBe('WAIT');
    // C: COMPLETED, then CRASHED is refused (ABORT).
    const c = await request(t.baseUrl)
      .post('/api/task_runs/')
      .send({ task_key: 'm', dynamic_key: 'c' })
      .expect(201);
    expect(await setState((c.body as { id: string }).id, { type: 'COMPLETED' }, 201)).toBe('ACCEPT');
    expect(await setState((c.body as { id: string }).id, { type: 'CRASHED' }, 200)).toBe('ABORT');
    // An existing run answered 200 is not a creation.
    await request(t.baseUrl)
      .post('/api/task_runs/')
      .send({ id: c.body.id, task_key: 'm', dynamic_key: 'c' })
      .expect(200);

    const after = await scrape();
    expect(after).toEqual({
      prefect_task_runs_created_total: 3,
      'prefect_task_run_state_transitions_total{state_type="PENDING"}': 2,
      'prefect_task_run_state_transitions_total{state_type="RUNNING"}': 1,
      'prefect_task_run_state_transitions_total{state_type="SCHEDULED"}': 2,
      'prefect_task_run_state_transitions_total{state_type="COMPLETED"}': 1,
      'prefect_task_run_state_transitions_total{state_type="FAILED"}': 0,
      'prefect_task_run_orchestration_decisions_total{decision="ACCEPT"}': 2,
      'prefect_task_run_orchestration_decisions_total{decision="REJECT"}': 1,
      'prefect_task_run_orchestration_decisions_total{decision="WAIT"}': 1,
      'prefect_task_run_orchestration_decisions_total{decision="ABORT"}': 1,
    });
  });
});
