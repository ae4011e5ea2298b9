import request from 'supertest';
import { Clock, FakeClock } from '../../src/common/time/clock';
import { createTaskRun } from '../factories/task-run.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * Every sort and every filter operator of docs/reference.md §1.8 against a small known data set:
 *   flow F1 (tags [ft]) with deployment D1; flow F2 without deployments.
 *   FR1: F1, D1, tags [a,b], work queue wq1, version v1, idempotency k1, created_by {type: USER}, RUNNING
 *   FR2: F2, no deployment, tags [], PENDING
 *   FR3: F2, parent task run = delta (a subflow)
 *   alpha (FR1, tags [x,y], COMPLETED), beta (FR1, tags [x], RUNNING), gamma (FR2, tags [], PENDING),
 *   delta (no flow run, tags [y], SCHEDULED in the future), epsilon (no flow run, no tags, FAILED)
 */
describe('task run filters, sorts, count, paginate and history', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);
  const ids: Record<string, string> = {};
  let f1: string, f2: string, d1: string, fr1: string, fr2: string, fr3: string;
  let tBeforeRuns: string, tMiddle: string, tAfterRuns: string;

  const setState = (id: string, type: string, extra: Record<string, unknown> = {}) =>
    api()
      .post(`/api/task_runs/${id}/set_state`)
      .send({ state: { type, ...extra }, force: true })
      .expect(201);

  const names = async (body: Record<string, unknown>): Promise<string[]> => {
    const res = await api().post('/api/task_runs/filter').send(body).expect(200);
    return (res.body as { name: string }[]).map((r) => r.name).sort();
  };

  beforeAll(async () => {
    t = await createTestApp();
    f1 = (
      await api()
        .post('/api/flows/')
        .send({ name: 'flow-one', tags: ['ft'] })
        .expect(201)
    ).body.id;
    f2 = (await api().post('/api/flows/').send({ name: 'flow-two' }).expect(201)).body.id;
    [{ id: d1 }] = await t.dataSource.query(
      `INSERT INTO deployment (name, flow_id, paused, tags, work_queue_name, concurrency_limit)
       VALUES ('deploy-one', $1, true, '["dt"]', 'dq', 5) RETURNING id`,
      [f1],
    );
    fr1 = (
      await api()
        .post('/api/flow_runs/')
        .send({
          flow_id: f1,
          deployment_id: d1,
          name: 'run-one',
          tags: ['a', 'b'],
          work_queue_name: 'wq1',
          flow_version: 'v1',
          idempotency_key: 'k1',
          created_by: { id: '6a1c7d2e-5b43-4f1e-9a51-0c7d1a2b3c4d', type: 'USER' },
          state: { type: 'RUNNING' },
        })
        .expect(201)
    ).body.id;
    fr2 = (await api().post('/api/flow_runs/').send({ flow_id: f2, name: 'run-two' }).expect(201)).body.id;
    tBeforeRuns = new Date().toISOString();
    const create = async (name: string, body: Record<string, unknown>) => {
      ids[name] = (await createTaskRun(t.baseUrl, { name, task_key: 'k', ...body })).id;
    };
    await create('alpha', { flow_run_id: fr1, tags: ['x', 'y'] });
    await create('beta', { flow_run_id: fr1, tags: ['x'] });
    await create('gamma', { flow_run_id: fr2, tags: [] });
    tMiddle = new Date().toISOString();
    await create('delta', {
      tags: ['y'],
      state: { type: 'SCHEDULED', state_details: { scheduled_time: '2099-01-01T00:00:00Z' } },
    });
    await create('epsilon', {});
    await setState(ids.alpha, 'RUNNING');
    await setState(ids.alpha, 'COMPLETED');
    await setState(ids.beta, 'RUNNING');
    await setState(ids.epsilon, 'FAILED');
    fr3 = (
      await api()
        .post('/api/flow_runs/')
        .send({ flow_id: f2, name: 'run-three', parent_task_run_id: ids.delta })
        .expect(201)
    ).body.id;
    tAfterRuns = new Date(Date.now() + 1000).toISOString();
  });

  afterAll(async () => {
    await t.close();
  });

  const ALL = ['alpha', 'beta', 'delta', 'epsilon', 'gamma'];

  it('should return every run for an empty body, with ID_DESC by default', async () => {
    const res = await api().post('/api/task_runs/filter').send({}).expect(200);
    expect((res.body as { name: string }[]).map((r) => r.name).sort()).toEqual(ALL);
    const byId = [...(res.body as { id: string }[]).map((r) => r.id)];
    expect(byId).toEqual([...byId].sort().reverse());
  });

  describe('task_runs filter', () => {
    it.each<[string, Record<string, unknown>, string[]]>([
      ['id.any_', { id: { any_: [] } }, []],
      ['name.any_', { name: { any_: ['alpha', 'gamma'] } }, ['alpha', 'gamma']],
      ['name.like_ (case-insensitive substring)', { name: { like_: 'LT' } }, ['delta']],
      ['tags.all_', { tags: { all_: ['x', 'y'] } }, ['alpha']],
      ['tags.all_ empty is ignored', { tags: { all_: [] } }, ALL],
      ['tags.is_null_ true', { tags: { is_null_: true } }, ['epsilon', 'gamma']],
      ['tags.is_null_ false', { tags: { is_null_: false } }, ['alpha', 'beta', 'delta']],
      [
        'tags operator or_',
        { tags: { operator: 'or_', all_: ['x', 'y'], is_null_: true } },
        ['alpha', 'epsilon', 'gamma'],
      ],
      ['state.type.any_', { state: { type: { any_: ['RUNNING', 'FAILED'] } } }, ['beta', 'epsilon']],
      ['state.name.any_', { state: { name: { any_: ['Completed'] } } }, ['alpha']],
      [
        'state operator or_',
        { state: { operator: 'or_', type: { any_: ['RUNNING'] }, name: { any_: ['Scheduled'] } } },
        ['beta', 'delta'],
      ],
      ['start_time.is_null_ true', { start_time: { is_null_: true } }, ['delta', 'gamma']],
      ['start_time.is_null_ false', { start_time: { is_null_: false } }, ['alpha', 'beta', 'epsilon']],
      ['end_time.is_null_ false', { end_time: { is_null_: false } }, ['alpha', 'epsilon']],
      ['subflow_runs.exists_ true', { subflow_runs: { exists_: true } }, ['delta']],
      [
        'subflow_runs.exists_ false',
        { subflow_runs: { exists_: false } },
        ['alpha', 'beta', 'epsilon', 'gamma'],
      ],
      ['flow_run_id.is_null_ true', { flow_run_id: { is_null_: true } }, ['delta', 'epsilon']],
      ['flow_run_id.is_null_ false', { flow_run_id: { is_null_: false } }, ['alpha', 'beta', 'gamma']],
      [
        'operator or_',
        { operator: 'or_', name: { any_: ['alpha'] }, state: { type: { any_: ['FAILED'] } } },
        ['alpha', 'epsilon'],
      ],
      [
        'and_ by default',
        { name: { any_: ['alpha', 'beta'] }, state: { type: { any_: ['RUNNING'] } } },
        ['beta'],
      ],
    ])('should filter on %s', async (_what, filter, expected) => {
      expect(await names({ task_runs: filter })).toEqual(expected);
    });

    it('should filter on id.any_ and flow_run_id.any_', async () => {
      expect(await names({ task_runs: { id: { any_: [ids.alpha, ids.delta] } } })).toEqual([
        'alpha',
        'delta',
      ]);
      expect(await names({ task_runs: { flow_run_id: { any_: [fr2] } } })).toEqual(['gamma']);
    });

    it('should filter on times, inclusively', async () => {
      expect(
        await names({ task_runs: { start_time: { after_: tBeforeRuns, before_: tAfterRuns } } }),
      ).toEqual(['alpha', 'beta', 'epsilon']);
      expect(await names({ task_runs: { end_time: { before_: tBeforeRuns } } })).toEqual([]);
      expect(await names({ task_runs: { end_time: { after_: tBeforeRuns } } })).toEqual(['alpha', 'epsilon']);
      expect(await names({ task_runs: { expected_start_time: { before_: tMiddle } } })).toEqual([
        'alpha',
        'beta',
        'gamma',
      ]);
      expect(
        await names({ task_runs: { expected_start_time: { after_: '2098-12-31T00:00:00+00:00' } } }),
      ).toEqual(['delta']);
      const run = (await api().get(`/api/task_runs/${ids.alpha}`)).body;
      expect(
        await names({ task_runs: { start_time: { before_: run.start_time, after_: run.start_time } } }),
      ).toEqual(['alpha']);
    });
  });

  describe('flow_runs, flows and deployments filters', () => {
    it.each<[string, Record<string, unknown>, string[]]>([
      ['an empty flow_runs object drops flow-less runs', { flow_runs: {} }, ['alpha', 'beta', 'gamma']],
      ['flow_runs.name.any_', { flow_runs: { name: { any_: ['run-two'] } } }, ['gamma']],
      ['flow_runs.name.like_', { flow_runs: { name: { like_: 'ONE' } } }, ['alpha', 'beta']],
      ['flow_runs.tags.all_', { flow_runs: { tags: { all_: ['a', 'b'] } } }, ['alpha', 'beta']],
      ['flow_runs.tags.any_', { flow_runs: { tags: { any_: ['b', 'zzz'] } } }, ['alpha', 'beta']],
      ['flow_runs.tags.is_null_', { flow_runs: { tags: { is_null_: true } } }, ['gamma']],
      ['flow_runs.deployment_id.is_null_', { flow_runs: { deployment_id: { is_null_: true } } }, ['gamma']],
      [
        'flow_runs.work_queue_name.any_',
        { flow_runs: { work_queue_name: { any_: ['wq1'] } } },
        ['alpha', 'beta'],
      ],
      [
        'flow_runs.work_queue_name.is_null_',
        { flow_runs: { work_queue_name: { is_null_: true } } },
        ['gamma'],
      ],
      ['flow_runs.state.type.any_', { flow_runs: { state: { type: { any_: ['PENDING'] } } } }, ['gamma']],
      [
        'flow_runs.state.type.not_any_',
        { flow_runs: { state: { type: { not_any_: ['PENDING'] } } } },
        ['alpha', 'beta'],
      ],
      [
        'flow_runs.state.name.any_',
        { flow_runs: { state: { name: { any_: ['Running'] } } } },
        ['alpha', 'beta'],
      ],
      [
        'flow_runs.state.name.not_any_',
        { flow_runs: { state: { name: { not_any_: ['Running'] } } } },
        ['gamma'],
      ],
      ['flow_runs.flow_version.any_', { flow_runs: { flow_version: { any_: ['v1'] } } }, ['alpha', 'beta']],
      ['flow_runs.start_time.is_null_', { flow_runs: { start_time: { is_null_: true } } }, ['gamma']],
      ['flow_runs.end_time.is_null_', { flow_runs: { end_time: { is_null_: false } } }, []],
      [
        'flow_runs.expected_start_time.after_',
        { flow_runs: { expected_start_time: { after_: '2000-01-01T00:00:00Z' } } },
        ['alpha', 'beta', 'gamma'],
      ],
      [
        'flow_runs.next_scheduled_start_time.before_',
        { flow_runs: { next_scheduled_start_time: { before_: '2100-01-01T00:00:00Z' } } },
        [],
      ],
      [
        'flow_runs.parent_task_run_id.is_null_',
        { flow_runs: { parent_task_run_id: { is_null_: false } } },
        [],
      ],
      [
        'flow_runs.idempotency_key.any_',
        { flow_runs: { idempotency_key: { any_: ['k1'] } } },
        ['alpha', 'beta'],
      ],
      ['flow_runs.idempotency_key.not_any_', { flow_runs: { idempotency_key: { not_any_: ['k1'] } } }, []],
      ['flow_runs.created_by.type_', { flow_runs: { created_by: { type_: ['USER'] } } }, ['alpha', 'beta']],
      [
        'flow_runs.created_by.id_',
        { flow_runs: { created_by: { id_: ['6a1c7d2e-5b43-4f1e-9a51-0c7d1a2b3c4d'] } } },
        ['alpha', 'beta'],
      ],
      ['flow_runs.created_by.is_null_', { flow_runs: { created_by: { is_null_: true } } }, ['gamma']],
      [
        'flow_runs operator or_',
        { flow_runs: { operator: 'or_', name: { any_: ['run-two'] }, tags: { all_: ['a'] } } },
        ['alpha', 'beta', 'gamma'],
      ],
      ['flows.name.any_', { flows: { name: { any_: ['flow-two'] } } }, ['gamma']],
      ['flows.name.like_', { flows: { name: { like_: 'W-ON' } } }, ['alpha', 'beta']],
      ['flows.tags.all_', { flows: { tags: { all_: ['ft'] } } }, ['alpha', 'beta']],
      ['flows.tags.is_null_', { flows: { tags: { is_null_: true } } }, ['gamma']],
      ['flows.deployment.is_null_ true', { flows: { deployment: { is_null_: true } } }, ['gamma']],
      ['flows.deployment.is_null_ false', { flows: { deployment: { is_null_: false } } }, ['alpha', 'beta']],
      [
        'flows operator or_',
        { flows: { operator: 'or_', name: { any_: ['flow-two'] }, tags: { all_: ['ft'] } } },
        ['alpha', 'beta', 'gamma'],
      ],
      ['an empty deployments object', { deployments: {} }, ['alpha', 'beta']],
      ['deployments.name.any_', { deployments: { name: { any_: ['nope'] } } }, []],
      ['deployments.name.like_', { deployments: { name: { like_: 'DEPLOY' } } }, ['alpha', 'beta']],
      [
        'deployments.flow_or_deployment_name.like_',
        { deployments: { flow_or_deployment_name: { like_: 'flow-one' } } },
        ['alpha', 'beta'],
      ],
      ['deployments.paused.eq_', { deployments: { paused: { eq_: false } } }, []],
      ['deployments.tags.all_', { deployments: { tags: { all_: ['dt'] } } }, ['alpha', 'beta']],
      ['deployments.tags.any_', { deployments: { tags: { any_: ['zz'] } } }, []],
      ['deployments.tags.is_null_', { deployments: { tags: { is_null_: false } } }, ['alpha', 'beta']],
      [
        'deployments.work_queue_name.any_',
        { deployments: { work_queue_name: { any_: ['dq'] } } },
        ['alpha', 'beta'],
      ],
      ['deployments.concurrency_limit.ge_', { deployments: { concurrency_limit: { ge_: 6 } } }, []],
      [
        'deployments.concurrency_limit.le_',
        { deployments: { concurrency_limit: { le_: 5 } } },
        ['alpha', 'beta'],
      ],
      [
        'deployments.concurrency_limit.is_null_',
        { deployments: { concurrency_limit: { is_null_: true } } },
        [],
      ],
      [
        'deployments operator or_',
        { deployments: { operator: 'or_', paused: { eq_: false }, tags: { all_: ['dt'] } } },
        ['alpha', 'beta'],
      ],
    ])('should filter on %s', async (_what, body, expected) => {
      expect(await names(body)).toEqual(expected);
    });

    it('should filter flow runs on time ranges', async () => {
      expect(await names({ flow_runs: { start_time: { before_: tBeforeRuns } } })).toEqual(['alpha', 'beta']);
      expect(await names({ flow_runs: { start_time: { after_: tBeforeRuns } } })).toEqual([]);
      expect(await names({ flow_runs: { end_time: { before_: tAfterRuns } } })).toEqual([]);
      expect(await names({ flow_runs: { expected_start_time: { before_: tBeforeRuns } } })).toEqual([
        'alpha',
        'beta',
        'gamma',
      ]);
      expect(await names({ flow_runs: { expected_start_time: { after_: tAfterRuns } } })).toEqual([]);
      expect(
        await names({ flow_runs: { next_scheduled_start_time: { after_: '2000-01-01T00:00:00Z' } } }),
      ).toEqual([]);
    });

    it('should filter on ids: fast path, not_any_, parents', async () => {
      expect(await names({ flow_runs: { id: { any_: [fr1] } } })).toEqual(['alpha', 'beta']);
      expect(await names({ flow_runs: { id: { not_any_: [fr1] } } })).toEqual(['gamma']);
      expect(await names({ flow_runs: { parent_task_run_id: { any_: [ids.delta] } } })).toEqual([]);
      expect(await names({ flow_runs: { parent_flow_run_id: { any_: [fr1] } } })).toEqual([]);
      expect(await names({ flows: { id: { any_: [f2] } } })).toEqual(['gamma']);
      expect(await names({ flows: { id: { not_any_: [f2] } } })).toEqual(['alpha', 'beta']);
      expect(await names({ deployments: { id: { any_: [d1] } } })).toEqual(['alpha', 'beta']);
      expect(await names({ deployments: { id: { not_any_: [d1] } } })).toEqual([]);
      expect(await names({ flow_runs: { deployment_id: { any_: [d1] } } })).toEqual(['alpha', 'beta']);
      const sub = (await api().get(`/api/flow_runs/${fr3}`)).body;
      expect(sub.parent_task_run_id).toBe(ids.delta);
    });
  });

  describe('sorts', () => {
    const order = async (sort: string) =>
      ((await api().post('/api/task_runs/filter').send({ sort }).expect(200)).body as { name: string }[]).map(
        (r) => r.name,
      );

    it('should sort by name both ways', async () => {
      expect(await order('NAME_ASC')).toEqual(ALL);
      expect(await order('NAME_DESC')).toEqual([...ALL].reverse());
    });

    it('should sort by expected start time both ways', async () => {
      const asc = await order('EXPECTED_START_TIME_ASC');
      expect(asc.slice(0, 3)).toEqual(['alpha', 'beta', 'gamma']);
      expect(asc.at(-1)).toBe('delta');
      expect(await order('EXPECTED_START_TIME_DESC')).toEqual([...asc].reverse());
    });

    it('should sort by next scheduled start (nulls last) and end time (nulls first)', async () => {
      expect((await order('NEXT_SCHEDULED_START_TIME_ASC'))[0]).toBe('delta');
      const end = await order('END_TIME_DESC');
      expect(end.slice(3)).toEqual(['epsilon', 'alpha']);
    });

    it('should keep every sort order with a name like_ filter (trigram path)', async () => {
      const sorted = async (sort: string) =>
        (
          (
            await api()
              .post('/api/task_runs/filter')
              .send({ sort, task_runs: { name: { like_: 'lta' } } })
              .expect(200)
          ).body as { name: string }[]
        ).map((r) => r.name);
      expect(await sorted('NAME_DESC')).toEqual(['delta']);
      const both = async (sort: string) =>
        (
          (
            await api()
              .post('/api/task_runs/filter')
              .send({ sort, task_runs: { name: { like_: 'eta' } } })
              .expect(200)
          ).body as { name: string }[]
        ).map((r) => r.name);
      expect(await both('NAME_ASC')).toEqual(['beta']);
      const ets = await api()
        .post('/api/task_runs/filter')
        .send({
          sort: 'ID_DESC',
          task_runs: { name: { like_: 'a' }, id: { any_: [ids.alpha, ids.beta, ids.gamma] } },
        })
        .expect(200);
      const got = (ets.body as { id: string }[]).map((r) => r.id);
      expect(got).toEqual([...got].sort().reverse());
      for (const sort of [
        'ID_DESC',
        'EXPECTED_START_TIME_ASC',
        'EXPECTED_START_TIME_DESC',
        'NEXT_SCHEDULED_START_TIME_ASC',
        'END_TIME_DESC',
      ]) {
        const withLike = await api()
          .post('/api/task_runs/filter')
          .send({ sort, task_runs: { name: { like_: 'amm' } } })
          .expect(200);
        expect((withLike.body as { name: string }[]).map((r) => r.name)).toEqual(['gamma']);
      }
      const ordered = await api()
        .post('/api/task_runs/filter')
        .send({ sort: 'EXPECTED_START_TIME_DESC', task_runs: { name: { like_: 'elt' } } })
        .expect(200);
      expect((ordered.body as { name: string }[]).map((r) => r.name)).toEqual(['delta']);
    });

    it('should refuse an unknown sort', async () => {
      const res = await api().post('/api/task_runs/filter').send({ sort: 'NOPE' }).expect(422);
      expect(res.body.exception_detail[0].loc).toEqual(['body', 'sort']);
    });
  });

  describe('limits, offsets and validation', () => {
    it('should apply limit and offset', async () => {
      const res = await api()
        .post('/api/task_runs/filter')
        .send({ sort: 'NAME_ASC', limit: 2, offset: 1 })
        .expect(200);
      expect((res.body as { name: string }[]).map((r) => r.name)).toEqual(['beta', 'delta']);
      expect((await api().post('/api/task_runs/filter').send({ limit: 0 }).expect(200)).body).toEqual([]);
      expect((await api().post('/api/task_runs/filter').send({ limit: null }).expect(200)).body).toHaveLength(
        5,
      );
    });

    it('should refuse limits out of bounds and negative offsets', async () => {
      expect((await api().post('/api/task_runs/filter').send({ limit: -1 }).expect(422)).body).toEqual({
        detail: 'Invalid limit: must be greater than or equal to 0.',
      });
      expect((await api().post('/api/task_runs/filter').send({ limit: 201 }).expect(422)).body).toEqual({
        detail: 'Invalid limit: must be less than or equal to 200.',
      });
      await api().post('/api/task_runs/filter').send({ offset: -1 }).expect(422);
    });

    it.each([
      [{ task_runs: { bogus: {} } }, ['body', 'task_runs', 'bogus']],
      [{ task_runs: { name: { bogus: 1 } } }, ['body', 'task_runs', 'name', 'bogus']],
      [{ flow_runs: { id: { any_: ['x'] } } }, ['body', 'flow_runs', 'id', 'any_']],
      [
        { task_runs: { state: { type: { any_: ['NOPE'] } } } },
        ['body', 'task_runs', 'state', 'type', 'any_'],
      ],
      [
        { task_runs: { start_time: { before_: 'yesterday' } } },
        ['body', 'task_runs', 'start_time', 'before_'],
      ],
      [{ task_runs: { operator: 'xor' } }, ['body', 'task_runs', 'operator']],
      [{ work_pools: {} }, ['body', 'work_pools']],
    ])('should answer 422 for a bad filter %#', async (body, loc) => {
      const res = await api().post('/api/task_runs/filter').send(body).expect(422);
      expect((res.body.exception_detail as { loc: unknown }[]).map((d) => d.loc)).toContainEqual(loc);
    });

    it('should keep SQL out of values', async () => {
      expect(await names({ task_runs: { name: { like_: "%' OR 1=1 --" } } })).toEqual([]);
      expect(await names({ task_runs: { name: { any_: ["alpha'); DROP TABLE task_run; --"] } } })).toEqual(
        [],
      );
      expect(await names({})).toEqual(ALL);
    });
  });

  describe('count and paginate', () => {
    it('should count with the same filters, as a bare integer', async () => {
      expect((await api().post('/api/task_runs/count').send({}).expect(200)).body).toBe(5);
      expect((await api().post('/api/task_runs/count').send({ flow_runs: {} }).expect(200)).body).toBe(3);
      expect(
        (
          await api()
            .post('/api/task_runs/count')
            .send({ task_runs: { tags: { all_: ['x'] } } })
            .expect(200)
        ).body,
      ).toBe(2);
      await api()
        .post('/api/task_runs/count')
        .send({ task_runs: { nope: 1 } })
        .expect(422);
    });

    it('should paginate with reduced results', async () => {
      const res = await api()
        .post('/api/task_runs/paginate')
        .send({ sort: 'NAME_ASC', limit: 2, page: 2 })
        .expect(200);
      expect(res.body).toMatchObject({ count: 5, limit: 2, pages: 3, page: 2 });
      expect((res.body.results as { name: string }[]).map((r) => r.name)).toEqual(['delta', 'epsilon']);
      expect(Object.keys((res.body as { results: object[] }).results[0]).sort()).toEqual(
        [
          'id',
          'created',
          'updated',
          'name',
          'flow_run_id',
          'task_key',
          'state_id',
          'state',
          'task_version',
          'task_inputs',
          'empirical_policy',
          'tags',
          'start_time',
          'end_time',
          'total_run_time',
          'estimated_run_time',
          'estimated_start_time_delta',
        ].sort(),
      );
      expect((await api().post('/api/task_runs/paginate').send({ limit: 0 }).expect(200)).body).toEqual({
        results: [],
        count: 5,
        limit: 0,
        pages: 0,
        page: 1,
      });
      await api().post('/api/task_runs/paginate').send({ page: 0 }).expect(422);
      await api().post('/api/task_runs/paginate').send({ limit: 500 }).expect(422);
    });
  });

  describe('history', () => {
    it('should bucket runs by expected start time and state', async () => {
      const start = new Date(Date.parse(tBeforeRuns) - 10_000).toISOString();
      const res = await api()
        .post('/api/task_runs/history')
        .send({ history_start: start, history_end: tAfterRuns, history_interval_seconds: 3600 })
        .expect(200);
      expect(res.body).toHaveLength(1);
      const [bucket] = res.body as {
        interval_start: string;
        states: { state_type: string; state_name: string; count_runs: number }[];
      }[];
      expect(bucket.interval_start).toBe(new Date(start).toISOString().replace('Z', '000Z'));
      const byState = Object.fromEntries(
        bucket.states.map((s) => [`${s.state_type}/${s.state_name}`, s.count_runs]),
      );
      expect(byState).toEqual({
        'COMPLETED/Completed': 1,
        'RUNNING/Running': 1,
        'PENDING/Pending': 1,
        'FAILED/Failed': 1,
      });
      // The sums, exact on a clock the test moves: 'task run history sums' at the end of this file.
    });

    it('should produce empty buckets, cap at 500 and honour filters', async () => {
      const res = await api()
        .post('/api/task_runs/history')
        .send({
          history_start: '2000-01-01T00:00:00Z',
          history_end: '2000-01-01T00:00:10Z',
          history_interval_seconds: 5,
        })
        .expect(200);
      expect(res.body).toEqual([
        {
          interval_start: '2000-01-01T00:00:00.000000Z',
          interval_end: '2000-01-01T00:00:05.000000Z',
          states: [],
        },
        {
          interval_start: '2000-01-01T00:00:05.000000Z',
          interval_end: '2000-01-01T00:00:10.000000Z',
          states: [],
        },
      ]);
      const many = await api()
        .post('/api/task_runs/history')
        .send({
          history_start: '2000-01-01T00:00:00Z',
          history_end: '2000-01-02T00:00:00Z',
          history_interval_seconds: 1,
        })
        .expect(200);
      expect(many.body).toHaveLength(500);
      const filtered = await api()
        .post('/api/task_runs/history')
        .send({
          history_start: '2000-01-01T00:00:00Z',
          history_end: '2100-01-01T00:00:00Z',
          history_interval_seconds: 86400 * 365 * 100,
          task_runs: { name: { any_: ['delta'] } },
        })
        .expect(200);
      expect(filtered.body[0].states).toEqual([
        expect.objectContaining({ state_type: 'SCHEDULED', state_name: 'Scheduled', count_runs: 1 }),
      ]);
    });

    it('should refuse intervals under a second and missing fields', async () => {
      expect(
        (
          await api()
            .post('/api/task_runs/history')
            .send({
              history_start: '2000-01-01T00:00:00Z',
              history_end: '2000-01-02T00:00:00Z',
              history_interval_seconds: 0.5,
            })
            .expect(422)
        ).body,
      ).toEqual({ detail: 'History interval must not be less than 1 second.' });
      await api().post('/api/task_runs/history').send({ history_start: '2000-01-01T00:00:00Z' }).expect(422);
    });
  });
});

/**
 * The history sums, exact: the app runs on a clock only the test moves, so run times and lateness are
 * known to the microsecond (docs/reference.md §1.1: estimated_run_time and estimated_start_time_delta).
 */
describe('task run history sums, on a clock the test moves', () => {
  const T0 = Date.UTC(2001, 0, 1) * 1000;
  const clock = new FakeClock(T0);
  let t: TestApp;
  const api = () => request(t.baseUrl);
  const create = async (name: string): Promise<string> =>
    (await createTaskRun(t.baseUrl, { name, state: { type: 'PENDING' } })).id;
  const setState = (id: string, type: string) =>
    api().post(`/api/task_runs/${id}/set_state`).send({ state: { type }, force: true }).expect(201);

  beforeAll(async () => {
    t = await createTestApp({ override: (b) => b.overrideProvider(Clock).useValue(clock) });
  });

  afterAll(async () => {
    await t.close();
  });

  it('should sum estimated run time and lateness per state from the runs', async () => {
    const done = await create('done'); // t = 0: expected to start now
    clock.advance(2);
    await setState(done, 'RUNNING'); // t = 2: 2 s late
    clock.advance(3);
    await setState(done, 'COMPLETED'); // t = 5: ran 3 s
    const running = await create('running'); // t = 5
    await create('late'); // t = 5, never started
    clock.advance(1.5);
    await setState(running, 'RUNNING'); // t = 6.5: 1.5 s late
    const other = await create('other'); // t = 6.5
    clock.advance(1);
    await setState(other, 'RUNNING'); // t = 7.5: 1 s late
    clock.advance(2.25); // now: t = 9.75

    const res = await api()
      .post('/api/task_runs/history')
      .send({
        history_start: '2001-01-01T00:00:00Z',
        history_end: '2001-01-01T01:00:00Z',
        history_interval_seconds: 3600,
      })
      .expect(200);
    for (const bucket of res.body as { states: { state_type: string }[] }[]) {
      bucket.states.sort((x, y) => x.state_type.localeCompare(y.state_type));
    }
    expect(res.body).toEqual([
      {
        interval_start: '2001-01-01T00:00:00.000000Z',
        interval_end: '2001-01-01T01:00:00.000000Z',
        states: [
          {
            state_type: 'COMPLETED',
            state_name: 'Completed',
            count_runs: 1,
            sum_estimated_run_time: 3,
            sum_estimated_lateness: 2,
          },
          {
            state_type: 'PENDING',
            state_name: 'Pending',
            count_runs: 1,
            sum_estimated_run_time: 0,
            sum_estimated_lateness: 4.75, // not started, 4.75 s after its expected start
          },
          {
            state_type: 'RUNNING',
            state_name: 'Running',
            count_runs: 2,
            sum_estimated_run_time: 3.25 + 2.25, // each since it started, up to now
            sum_estimated_lateness: 1.5 + 1,
          },
        ],
      },
    ]);
  });
});
