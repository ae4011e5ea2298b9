import http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { FakeClock, Clock } from '../../src/common/time/clock';
import { TaskRunWritesFastPath } from '../../src/task-runs/task-run-writes.middleware';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * The fast path of the two hot write routes (docs/performance.md, "Fourth round") against the framework's own
 * route: the same sequence of requests goes to two apps, one as shipped and one whose fast path hands every
 * request on to the controller, each on its own database with its own fake clock moved in step. Their answers
 * must be the same (status, headers, body; ids, generated names and database times normalised) for valid
 * bodies of every kind, the errors the service raises, and every refusal of the framework (401, 404, 422).
 */

const AUTH = `Basic ${Buffer.from('admin:pass').toString('base64')}`;
const CLIENT_RUN_ID = '5a0d1f3e-2b4c-4d6e-8f70-91a2b3c4d5e6';
const MISSING_RUN_ID = '00000000-0000-4000-8000-000000000000';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/** A name the server generated (`adjective-animal`); the corpus's own names never look like this. */
const GENERATED_NAME = /^[a-z]+-[a-z]+$/;

type Step = {
  what: string;
  path: string | ((ctx: Ctx) => string);
  body?: unknown;
  /** Sent as is (bytes), instead of JSON of `body`. */
  raw?: string;
  headers?: Record<string, string>;
  /**
   * Which path the shipped app should take, counted by prefect_task_run_write_path_total; `before`: refused
   * before routing (the JSON body parser), so neither.
   */
  expect: 'fast' | 'framework' | 'before';
};
interface Ctx {
  flowRunId: string;
  answers: { body: unknown }[];
}

/**
 * Resolves the placeholders of a body per app: `{ flowRun: true }` is its flow run, `{ answer: n }` the id it
 * answered to request n of the sequence.
 */
const refs = (value: unknown, ctx: Ctx): unknown => {
  if (Array.isArray(value)) {
    return value.map((v) => refs(v, ctx));
  }
  if (value && typeof value === 'object') {
    const ref = value as Partial<Record<'flowRun' | 'answer', unknown>>;
    if (ref.flowRun === true) {
      return ctx.flowRunId;
    }
    if (typeof ref.answer === 'number') {
      return (ctx.answers[ref.answer].body as { id: string }).id;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, refs(v, ctx)]));
  }
  return value;
};
const runOf = (answer: number) => (ctx: Ctx) =>
  `/api/task_runs/${(ctx.answers[answer].body as { id: string }).id}/set_state`;

const create = (what: string, body: unknown, expect: Step['expect'] = 'fast', extra: Partial<Step> = {}) =>
  ({ what, path: '/api/task_runs/', body, expect, ...extra }) as Step;

const STEPS: Step[] = [
  // 0-14: creates the fast path takes
  create('a minimal run', { task_key: 'a', dynamic_key: '0' }),
  create('tags, labels, a name and a version', {
    task_key: 'a',
    dynamic_key: '1',
    tags: ['x', 'y'],
    labels: { team: 'data', n: 3, ok: true },
    name: 'My Run',
    task_version: '1.2',
  }),
  create('a client id and a flow run', {
    id: CLIENT_RUN_ID,
    task_key: 'b',
    dynamic_key: '0',
    flow_run_id: { flowRun: true },
  }),
  create('a cache key and expiration', {
    task_key: 'c',
    dynamic_key: '0',
    cache_key: 'ck-1',
    cache_expiration: '2030-01-01T00:00:00+02:00',
  }),
  create('a deferred SCHEDULED run (enqueued)', {
    task_key: 'bg',
    dynamic_key: '0',
    state: { type: 'SCHEDULED', state_details: { deferred: true } },
  }),
  create('a deferred run scheduled later', {
    task_key: 'bg',
    dynamic_key: '1',
    state: { type: 'SCHEDULED', state_details: { deferred: true, scheduled_time: '2030-01-01T00:00:00Z' } },
  }),
  create('empty task_inputs and policy', {
    task_key: 'd',
    dynamic_key: '0',
    task_inputs: {},
    empirical_policy: {},
  }),
  create('task_inputs referencing runs, and retries', {
    task_key: 'd',
    dynamic_key: '1',
    task_inputs: {
      x: [{ input_type: 'task_run', id: { answer: 0 } }],
      p: [{ input_type: 'parameter', name: 'p' }],
    },
    empirical_policy: { retries: 2, retry_delay: [1, 5], retry_jitter_factor: 0.5 },
  }),
  create('a state with a name, message and data', {
    task_key: 'e',
    dynamic_key: '0',
    state: { type: 'RUNNING', name: 'Going', message: 'hi', data: { v: [1, 'two'] } },
  }),
  create('explicit nulls', {
    task_key: 'f',
    dynamic_key: '0',
    state: null,
    name: null,
    tags: null,
    labels: null,
  }),
  create('an existing natural key (200)', { task_key: 'a', dynamic_key: '0' }),
  create('an existing client id (200)', {
    id: CLIENT_RUN_ID,
    task_key: 'b',
    dynamic_key: '0',
    flow_run_id: { flowRun: true },
  }),
  create('JSON without a Content-Type', undefined, 'fast', {
    raw: JSON.stringify({ task_key: 'g', dynamic_key: '0' }),
    headers: {},
  }),
  create('a CORS request', { task_key: 'g', dynamic_key: '1' }, 'fast', {
    headers: { origin: 'http://example.test', 'content-type': 'application/json' },
  }),
  create('non-ASCII text, written with JSON escapes', undefined, 'fast', {
    raw: '{"task_key":"\\u00fcnic\\u00f6de","dynamic_key":"\\ud834\\udd1e"}',
  }),
  // 15-18: taken by the fast path, refused by the service (the global filter answers)
  create('a flow run that does not exist (409)', {
    task_key: 'h',
    dynamic_key: '0',
    flow_run_id: MISSING_RUN_ID,
  }),
  create('a cache key that is too long (422 from the service)', {
    task_key: 'h',
    dynamic_key: '1',
    cache_key: 'x'.repeat(2001),
  }),
  create('a negative jitter (422 from the service)', {
    task_key: 'h',
    dynamic_key: '2',
    empirical_policy: { retry_jitter_factor: -1 },
  }),
  create('a bad scheduled_time (422 from the state mapper)', {
    task_key: 'h',
    dynamic_key: '3',
    state: { type: 'SCHEDULED', state_details: { scheduled_time: 'x' } },
  }),
  // 19-33: left to the framework
  create('an empty body', {}, 'framework'),
  create('an unknown key', { task_key: 'k', dynamic_key: '0', bogus: 1 }, 'framework'),
  create('a key class-transformer would drop', { task_key: 'k', dynamic_key: '0', toString: 1 }, 'framework'),
  create('a bad state type', { task_key: 'k', dynamic_key: '0', state: { type: 'NOPE' } }, 'framework'),
  create(
    'a state timestamp',
    { task_key: 'k', dynamic_key: '0', state: { type: 'PENDING', timestamp: '2026-01-01T00:00:00Z' } },
    'framework',
  ),
  create('a bad flow_run_id', { task_key: 'k', dynamic_key: '0', flow_run_id: 'nope' }, 'framework'),
  create('bad labels', { task_key: 'k', dynamic_key: '0', labels: { a: { b: 1 } } }, 'framework'),
  create(
    'a bad cache_expiration',
    { task_key: 'k', dynamic_key: '0', cache_expiration: 'soon' },
    'framework',
  ),
  create(
    'a bad task input',
    { task_key: 'k', dynamic_key: '0', task_inputs: { x: [{ id: 'no' }] } },
    'framework',
  ),
  create('a NUL character', { task_key: 'nul\u0000', dynamic_key: '0' }, 'framework'),
  create('a lone surrogate', undefined, 'framework', { raw: '{"task_key":"\\ud800","dynamic_key":"0"}' }),
  create('an array body', [1, 2], 'framework'),
  create('a null body', undefined, 'before', { raw: 'null' }),
  create('a text/plain body', undefined, 'framework', {
    raw: '{"task_key":"k","dynamic_key":"0"}',
    headers: { 'content-type': 'text/plain' },
  }),
  create('no credentials (401)', { task_key: 'k', dynamic_key: '0' }, 'framework', {
    headers: { 'content-type': 'application/json', authorization: '' },
  }),
  // 34-: state changes
  { what: 'RUNNING', path: runOf(0), body: { state: { type: 'RUNNING' } }, expect: 'fast' },
  {
    what: 'COMPLETED with data',
    path: runOf(0),
    body: { state: { type: 'COMPLETED', data: { result: 42 } } },
    expect: 'fast',
  },
  {
    what: 'RUNNING after COMPLETED (refused)',
    path: runOf(0),
    body: { state: { type: 'RUNNING' } },
    expect: 'fast',
  },
  {
    what: 'a forced PENDING',
    path: runOf(1),
    body: { state: { type: 'PENDING' }, force: true },
    expect: 'fast',
  },
  { what: 'RUNNING a deferred run', path: runOf(4), body: { state: { type: 'RUNNING' } }, expect: 'fast' },
  {
    what: 'FAILED with a message',
    path: runOf(4),
    body: { state: { type: 'FAILED', message: 'boom' }, force: false },
    expect: 'fast',
  },
  {
    what: 'a missing run (404)',
    path: `/api/task_runs/${MISSING_RUN_ID}/set_state`,
    body: { state: { type: 'RUNNING' } },
    expect: 'fast',
  },
  {
    what: 'a bad scheduled_time (422 from the state mapper)',
    path: runOf(2),
    body: { state: { type: 'SCHEDULED', state_details: { scheduled_time: 'x' } } },
    expect: 'fast',
  },
  {
    what: 'an id that is not a UUID (404)',
    path: '/api/task_runs/nope/set_state',
    body: { state: { type: 'RUNNING' } },
    expect: 'framework',
  },
  { what: 'an empty body', path: runOf(2), body: {}, expect: 'framework' },
  { what: 'a null state', path: runOf(2), body: { state: null }, expect: 'framework' },
  {
    what: 'a bad force',
    path: runOf(2),
    body: { state: { type: 'RUNNING' }, force: 'yes' },
    expect: 'framework',
  },
  { what: 'an unknown key', path: runOf(2), body: { state: { type: 'RUNNING' }, x: 1 }, expect: 'framework' },
  {
    what: 'no credentials (401)',
    path: runOf(2),
    body: { state: { type: 'RUNNING' } },
    headers: { 'content-type': 'application/json', authorization: '' },
    expect: 'framework',
  },
];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

function send(
  baseUrl: string,
  path: string,
  data: string,
  headers: Record<string, string>,
  method = 'POST',
): Promise<Answer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: compared as text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Runs the sequence against one app, moving its clock one second after each request. */
async function transcript(t: TestApp, clock: FakeClock, flowRunId: string): Promise<Answer[]> {
  const ctx: Ctx = { flowRunId, answers: [] };
  for (const [i, step] of STEPS.entries()) {
    const path = typeof step.path === 'function' ? step.path(ctx) : step.path;
    const data = step.raw ?? JSON.stringify(refs(step.body, ctx));
    const headers: Record<string, string> = {
      authorization: AUTH,
      'x-request-id': `step-${i}`,
      ...(step.headers ?? { 'content-type': 'application/json' }),
    };
    if (headers.authorization === '') {
      delete headers.authorization;
    }
    ctx.answers.push(await send(t.baseUrl, path, data, headers));
    clock.advance(1);
  }
  return ctx.answers as Answer[];
}

/** One app's answers with what must differ between two databases replaced by placeholders. */
function normalised(answers: Answer[]): unknown[] {
  const ids = new Map<string, string>();
  const text = (s: string) =>
    s.replace(UUID, (id) => {
      const key = id.toLowerCase();
      if (!ids.has(key)) {
        ids.set(key, `<uuid ${ids.size}>`);
      }
      return ids.get(key)!;
    });
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if ((key === 'created' || key === 'updated') && !Number.isNaN(Date.parse(v))) {
        return '<database time>';
      }
      if (key === 'name' && GENERATED_NAME.test(v)) {
        return '<generated name>';
      }
      return text(v);
    }
    if (Array.isArray(v)) {
      return v.map((x) => walk(x));
    }
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    return v;
  };
  return answers.map((a, i) => {
    const { date, 'content-length': length, ...headers } = a.headers;
    expect({ step: i, date: typeof date, length: Number(length) }).toEqual({
      step: i,
      date: 'string',
      length: Buffer.byteLength(a.text),
    });
    return { step: `${i}: ${STEPS[i].what}`, status: a.status, headers, body: walk(a.body) };
  });
}

async function writePathCounts(t: TestApp): Promise<Record<string, number>> {
  const res = await send(t.baseUrl, '/api/metrics', '', { authorization: AUTH }, 'GET');
  const counts: Record<string, number> = {};
  for (const m of res.text.matchAll(
    /^prefect_task_run_write_path_total\{route="(\w+)",path="(\w+)"\} (\d+)$/gm,
  )) {
    counts[`${m[1]} ${m[2]}`] = Number(m[3]);
  }
  return counts;
}

describe('task-run write fast path (POST /task_runs/, /task_runs/{id}/set_state)', () => {
  const start = Date.UTC(2026, 5, 1) * 1000;
  const shippedClock = new FakeClock(start);
  const frameworkClock = new FakeClock(start);
  let shipped: TestApp;
  let framework: TestApp;
  const env = { PREFECT_SERVER_API_AUTH_STRING: 'admin:pass' };
  /** Hands every request on to the controller's route: the framework path alone. */
  const frameworkOnly: Pick<TaskRunWritesFastPath, 'create' | 'setState'> = {
    create: (_req: Request, _res: Response, next: NextFunction) => Promise.resolve(next()),
    setState: (_req: Request, _res: Response, next: NextFunction) => Promise.resolve(next()),
  };

  beforeAll(async () => {
    [shipped, framework] = await Promise.all([
      createTestApp({ env, override: (b) => b.overrideProvider(Clock).useValue(shippedClock) }),
      createTestApp({
        env,
        override: (b) =>
          b
            .overrideProvider(Clock)
            .useValue(frameworkClock)
            .overrideProvider(TaskRunWritesFastPath)
            .useValue(frameworkOnly),
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([shipped?.close(), framework?.close()]);
  });

  async function flowRun(t: TestApp): Promise<string> {
    const headers = { authorization: AUTH, 'content-type': 'application/json' };
    const flow = await send(t.baseUrl, '/api/flows/', JSON.stringify({ name: 'fast-path' }), headers);
    const run = await send(
      t.baseUrl,
      '/api/flow_runs/',
      JSON.stringify({ flow_id: (flow.body as { id: string }).id, state: { type: 'RUNNING' } }),
      headers,
    );
    return (run.body as { id: string }).id;
  }

  it('should answer every request of the corpus exactly as the framework route does, taking the valid ones', async () => {
    const before = await writePathCounts(shipped);
    const shippedAnswers = await transcript(shipped, shippedClock, await flowRun(shipped));
    const frameworkAnswers = await transcript(framework, frameworkClock, await flowRun(framework));

    expect(normalised(shippedAnswers)).toEqual(normalised(frameworkAnswers));

    // The corpus covers what it claims: 201s, 200s, the service's errors and the framework's refusals.
    const statuses = new Set(shippedAnswers.map((a) => a.status));
    expect([...statuses].sort()).toEqual([200, 201, 401, 404, 409, 422]);
    // And the shipped app took the valid ones itself: a fast path that always passed would make the above vacuous.
    const after = await writePathCounts(shipped);
    const expected = (route: string, path: 'fast' | 'framework') =>
      STEPS.filter((s) => s.expect === path && (route === 'create') === (s.path === '/api/task_runs/'))
        .length;
    const moved = (key: string) => after[key] - (before[key] ?? 0);
    expect({
      'create fast': moved('create fast'),
      'create framework': moved('create framework'),
      'set_state fast': moved('set_state fast'),
      'set_state framework': moved('set_state framework'),
    }).toEqual({
      'create fast': expected('create', 'fast'),
      'create framework': expected('create', 'framework'),
      'set_state fast': expected('set_state', 'fast'),
      'set_state framework': expected('set_state', 'framework'),
    });
    // The framework-only app never took one (its counters do not move).
    const other = await writePathCounts(framework);
    expect(other['create fast'] + other['set_state fast']).toBe(0);
  });
});
