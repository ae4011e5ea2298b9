import { Injectable } from '@nestjs/common';
import request from 'supertest';
import { Clock } from '../../src/common/time/clock';
import { toMicros } from '../../src/common/time/timestamp';
import type { TaskOrchestrationContext } from '../../src/orchestration/orchestration-context';
import {
  ALL_STATES,
  OrchestrationRule,
  RuleScope,
  states,
  UniversalTransform,
} from '../../src/orchestration/orchestration-rule';
import type { PolicyEntry } from '../../src/orchestration/orchestration-rule';
import {
  DefaultTaskOrchestrationPolicy,
  OrchestrationPolicy,
  TransitionRequest,
} from '../../src/orchestration/policies/orchestration-policy';
import type { TaskConcurrencyRules } from '../../src/orchestration/policies/task-policies';
import type { StateType } from '../../src/orchestration/states';
import { createTaskRun } from '../factories/task-run.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';

/** The parts of the API's answers these tests read. */
type FlowRunJson = { id: string };
type StateResult = { state: { timestamp: string; state_details: { scheduled_time: string } } };

describe('orchestration through the API', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);
  let flowId: string;

  beforeAll(async () => {
    t = await createTestApp();
    flowId = (await api().post('/api/flows/').send({ name: 'orchestrated' }).expect(201)).body.id;
  });

  afterAll(async () => {
    await t.close();
  });

  const propose = (id: string, state: Record<string, unknown>, force = false) =>
    api().post(`/api/task_runs/${id}/set_state`).send({ state, force });
  const newFlowRun = async (state: Record<string, unknown> = { type: 'RUNNING' }) =>
    (await api().post('/api/flow_runs/').send({ flow_id: flowId, state }).expect(201)).body as FlowRunJson;

  it('should retry a failed run as AwaitingRetry, wait for its scheduled time, then give up', async () => {
    const run = await createTaskRun(t.baseUrl, { empirical_policy: { retries: 1, retry_delay: 30 } });
    await propose(run.id, { type: 'RUNNING' }).expect(201);
    const failed = await propose(run.id, { type: 'FAILED', message: 'boom' }).expect(201);
    expect(failed.body).toMatchObject({
      status: 'REJECT',
      details: { type: 'reject_details', reason: 'Retrying' },
      state: { type: 'SCHEDULED', name: 'AwaitingRetry', message: 'boom' },
    });
    const delay =
      (Date.parse((failed.body as StateResult).state.state_details.scheduled_time) - Date.now()) / 1000;
    expect(delay).toBeGreaterThan(25);
    expect(delay).toBeLessThanOrEqual(30);
    const beforeWait = (await api().get(`/api/task_runs/${run.id}`)).body;
    const early = await propose(run.id, { type: 'RUNNING' }).expect(200);
    expect((await api().get(`/api/task_runs/${run.id}`)).body.updated).toBe(beforeWait.updated);
    expect(early.body).toMatchObject({
      status: 'WAIT',
      state: { id: failed.body.state.id },
      details: { type: 'wait_details', reason: 'Scheduled time is in the future' },
    });
    expect(early.body.details.delay_seconds).toBeGreaterThan(25);
    // jump the schedule: force the run back to an immediately due AwaitingRetry
    await propose(run.id, { type: 'SCHEDULED', name: 'AwaitingRetry' }, true).expect(201);
    const retrying = await propose(run.id, { type: 'RUNNING' }).expect(201);
    expect(retrying.body.state.name).toBe('Retrying');
    const final = await propose(run.id, { type: 'FAILED' }).expect(201);
    expect(final.body).toMatchObject({ status: 'ACCEPT', state: { type: 'FAILED' } });
    expect((await api().get(`/api/task_runs/${run.id}`)).body.run_count).toBe(2);
  });

  it('should pick retry delays from a list and not retry non-retriable failures', async () => {
    const run = await createTaskRun(t.baseUrl, { empirical_policy: { retries: 3, retry_delay: [0, 100] } });
    await propose(run.id, { type: 'RUNNING' }).expect(201);
    const before = Date.now();
    const first = await propose(run.id, { type: 'FAILED' }).expect(201);
    const after = Date.now();
    // A delay of 0 (the first of the list): scheduled while the request was in flight (ms resolution).
    const scheduled = Date.parse((first.body as StateResult).state.state_details.scheduled_time);
    expect(scheduled).toBeGreaterThanOrEqual(before - 1);
    expect(scheduled).toBeLessThanOrEqual(after + 1);
    await propose(run.id, { type: 'RUNNING' }).expect(201);
    const other = await createTaskRun(t.baseUrl, { empirical_policy: { retries: 3 } });
    await propose(other.id, { type: 'RUNNING' }).expect(201);
    const noRetry = await propose(other.id, { type: 'FAILED', state_details: { retriable: false } }).expect(
      201,
    );
    expect(noRetry.body.status).toBe('ACCEPT');
  });

  it('should serve a cached result to a run with the same cache key', async () => {
    const producer = await createTaskRun(t.baseUrl);
    await propose(producer.id, { type: 'RUNNING' }).expect(201);
    await propose(producer.id, {
      type: 'COMPLETED',
      data: { type: 'reference', storage_key: 'cached-result' },
      state_details: { cache_key: 'ck-1', cache_expiration: '2999-01-01T00:00:00Z' },
    }).expect(201);
    const consumer = await createTaskRun(t.baseUrl);
    const hit = await propose(consumer.id, { type: 'RUNNING', state_details: { cache_key: 'ck-1' } }).expect(
      201,
    );
    expect(hit.body).toMatchObject({
      status: 'REJECT',
      details: { reason: 'Retrieved state from cache' },
      state: { type: 'COMPLETED', name: 'Cached', data: { type: 'reference', storage_key: 'cached-result' } },
    });
    const refresher = await createTaskRun(t.baseUrl);
    const refresh = await propose(refresher.id, {
      type: 'RUNNING',
      state_details: { cache_key: 'ck-1', refresh_cache: true },
    }).expect(201);
    expect(refresh.body.status).toBe('ACCEPT');
    const expired = await createTaskRun(t.baseUrl);
    await propose(expired.id, { type: 'RUNNING' }).expect(201);
    await propose(expired.id, {
      type: 'COMPLETED',
      state_details: { cache_key: 'ck-old', cache_expiration: '2000-01-01T00:00:00Z' },
    }).expect(201);
    const miss = await createTaskRun(t.baseUrl);
    expect(
      (await propose(miss.id, { type: 'RUNNING', state_details: { cache_key: 'ck-old' } }).expect(201)).body
        .status,
    ).toBe('ACCEPT');
  });

  it('should keep tasks from starting in stopped or paused flow runs', async () => {
    const done = await newFlowRun({ type: 'COMPLETED' });
    const a = await createTaskRun(t.baseUrl, { flow_run_id: done.id });
    expect((await propose(a.id, { type: 'RUNNING' }).expect(200)).body).toMatchObject({
      status: 'ABORT',
      details: { reason: 'The enclosing flow must be running to begin task execution.' },
    });
    const paused = await newFlowRun({
      type: 'PAUSED',
      state_details: { pause_timeout: '2999-01-01T00:00:00Z' },
    });
    const b = await createTaskRun(t.baseUrl, { flow_run_id: paused.id });
    const r = await propose(b.id, { type: 'RUNNING' }).expect(201);
    expect(r.body).toMatchObject({
      status: 'REJECT',
      details: { reason: `The flow is paused, new tasks can execute after resuming flow run: ${paused.id}.` },
      state: {
        type: 'PAUSED',
        name: 'NotReady',
        state_details: { pause_timeout: '2999-01-01T00:00:00.000000Z' },
      },
    });
  });

  it('should track flow-run retries on task reruns', async () => {
    const fr = await newFlowRun();
    const run = await createTaskRun(t.baseUrl, { flow_run_id: fr.id });
    await propose(run.id, { type: 'RUNNING' }).expect(201);
    await propose(run.id, { type: 'FAILED' }).expect(201);
    expect((await api().get(`/api/task_runs/${run.id}`)).body.flow_run_run_count).toBe(1);
    await api()
      .post(`/api/flow_runs/${fr.id}/set_state`)
      .send({ state: { type: 'FAILED' } })
      .expect(201);
    await api()
      .post(`/api/flow_runs/${fr.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    const rerun = await propose(run.id, { type: 'RUNNING' }).expect(201);
    expect(rerun.body.state.name).toBe('Retrying');
    const after = (await api().get(`/api/task_runs/${run.id}`)).body;
    expect(after).toMatchObject({ flow_run_run_count: 2, run_count: 1, end_time: null });
  });

  it('should refuse to crash or pause a finished run', async () => {
    const run = await createTaskRun(t.baseUrl);
    await propose(run.id, { type: 'RUNNING' }).expect(201);
    await propose(run.id, { type: 'FAILED' }).expect(201);
    expect((await propose(run.id, { type: 'CRASHED' }).expect(200)).body).toMatchObject({
      status: 'ABORT',
      details: { reason: 'Run is already FAILED.' },
    });
  });
});

/** A rule a module adds without touching the route. */
class NoRunningOnTag extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('RUNNING');
  override beforeTransition(scope: RuleScope): void {
    if (scope.ctx.run.tags.includes('frozen')) {
      scope.abortTransition('Frozen runs may not start.');
    }
  }
}

@Injectable()
class FreezingPolicy extends DefaultTaskOrchestrationPolicy {
  override entriesFor(
    from: StateType | null,
    to: StateType,
    request: TransitionRequest,
  ): readonly PolicyEntry[] {
    return [new NoRunningOnTag(), ...super.entriesFor(from, to, request)].filter(
      (e) => !(e instanceof OrchestrationRule) || e.appliesTo(from, to),
    );
  }
}

describe('a custom orchestration policy swapped in through DI', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);

  beforeAll(async () => {
    t = await createTestApp({
      override: (b) => b.overrideProvider(OrchestrationPolicy).useClass(FreezingPolicy),
    });
  });

  afterAll(async () => {
    await t.close();
  });

  it('should apply the extra rule on set_state while the core rules still run', async () => {
    const frozen = await createTaskRun(t.baseUrl, { tags: ['frozen'] });
    const res = await api()
      .post(`/api/task_runs/${frozen.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(200);
    expect(res.body).toMatchObject({ status: 'ABORT', details: { reason: 'Frozen runs may not start.' } });
    const free = await createTaskRun(t.baseUrl);
    await api()
      .post(`/api/task_runs/${free.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    await api()
      .post(`/api/task_runs/${free.id}/set_state`)
      .send({ state: { type: 'COMPLETED', data: { type: 'x' } } })
      .expect(201);
    const rerun = await api()
      .post(`/api/task_runs/${free.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(200);
    expect(rerun.body.details.reason).toBe('This run is already completed.');
  });

  it('should let a fully custom policy accept everything', async () => {
    const acceptAll = new (class extends OrchestrationPolicy {
      entriesFor(): readonly PolicyEntry[] {
        return [];
      }
    })();
    const t2 = await createTestApp({
      override: (b) => b.overrideProvider(OrchestrationPolicy).useValue(acceptAll),
    });
    try {
      const run = await createTaskRun(t2.baseUrl);
      await request(t2.baseUrl)
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      await request(t2.baseUrl)
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'COMPLETED', data: { type: 'x' } } })
        .expect(201);
      const again = await request(t2.baseUrl)
        .post(`/api/task_runs/${run.id}/set_state`)
        .send({ state: { type: 'RUNNING' } })
        .expect(201);
      expect(again.body.status).toBe('ACCEPT');
    } finally {
      await t2.close();
    }
  });
});

/** A clock that plays scripted values first, then ticks 1 ms per call. */
class ScriptedClock extends Clock {
  queue: number[] = [];
  private micros = Date.now() * 1000;
  nowMicros(): number {
    return this.queue.shift() ?? (this.micros += 1000);
  }
}

describe('set_state when the run already has a state at the proposed µs', () => {
  let t: TestApp;
  const clock = new ScriptedClock();
  const api = () => request(t.baseUrl);

  beforeAll(async () => {
    t = await createTestApp({ override: (b) => b.overrideProvider(Clock).useValue(clock) });
  });

  afterAll(async () => {
    await t.close();
  });

  it('should retry once with a new timestamp, then answer 409', async () => {
    const run = await createTaskRun(t.baseUrl);
    const pendingAt = toMicros(run.state!.timestamp);
    clock.queue.push(pendingAt, pendingAt);
    const running = await api()
      .post(`/api/task_runs/${run.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    expect(running.body.status).toBe('ACCEPT');
    const runningAt = toMicros((running.body as StateResult).state.timestamp);
    expect(runningAt).toBeGreaterThan(pendingAt);
    clock.queue.push(runningAt, runningAt, runningAt, runningAt);
    await api()
      .post(`/api/task_runs/${run.id}/set_state`)
      .send({ state: { type: 'COMPLETED' } })
      .expect(409);
    const states = (await api().get(`/api/task_run_states/?task_run_id=${run.id}`)).body as {
      type: string;
    }[];
    expect(states.map((s) => s.type)).toEqual(['PENDING', 'RUNNING']);
    expect((await api().get(`/api/task_runs/${run.id}`)).body.state_type).toBe('RUNNING');
  });
});

/** A stand-in for tag concurrency: a universal transform that writes through the orchestration transaction. */
class ProbeRelease extends UniversalTransform {
  override async after(ctx: TaskOrchestrationContext): Promise<void> {
    if (!ctx.transaction) {
      throw new Error('no orchestration transaction');
    }
    await ctx.transaction.query(
      `INSERT INTO task_run_state_cache (cache_key, task_run_state_id) VALUES ('probe:' || $1::text, $1::uuid)`,
      [ctx.run.id],
    );
  }
}

describe('rules plugged in at the tag-concurrency extension point', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);

  beforeAll(async () => {
    const concurrency: TaskConcurrencyRules = {
      secureSlots: () => [],
      releaseSlots: () => [new ProbeRelease()],
    };
    t = await createTestApp({
      override: (b) =>
        b.overrideProvider(OrchestrationPolicy).useValue(new DefaultTaskOrchestrationPolicy(concurrency)),
    });
  });

  afterAll(async () => {
    await t.close();
  });

  const probes = async (id: string) =>
    (
      await t.dataSource.query(`SELECT count(*)::int AS n FROM task_run_state_cache WHERE cache_key = $1`, [
        `probe:${id}`,
      ])
    )[0].n as number;

  it('should run them in the transaction at create and set_state, and roll them back for an existing run', async () => {
    const id = '5b0f3c0e-1d2a-4e5f-8a9b-0c1d2e3f4a5b';
    const run = await createTaskRun(t.baseUrl, { id, task_key: 'probe', dynamic_key: '0' });
    expect(await probes(run.id)).toBe(1);
    await createTaskRun(t.baseUrl, { id, task_key: 'probe', dynamic_key: '0' }, 200);
    expect(await probes(run.id)).toBe(1);
    await api()
      .post(`/api/task_runs/${run.id}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    await api()
      .post(`/api/task_runs/${run.id}/set_state`)
      .send({ state: { type: 'COMPLETED' } })
      .expect(201);
    expect(await probes(run.id)).toBe(3);
  });
});
