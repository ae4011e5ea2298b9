import type { ArgumentMetadata } from '@nestjs/common';
import { RequestValidationError } from '../common/errors/request-validation.error';
import { checkPlainBody, markJsonBody } from '../common/validation/plain-body-checks';
import { createValidationPipe } from '../common/validation/validation.pipe';
import { CreateTaskRunDto, SetTaskRunStateDto } from './dto/task-runs.dto';
import { acceptCreateBody, acceptSetStateBody } from './task-run-writes.validator';

const pipe = createValidationPipe();
const limits = { maxObjectKeys: 10_000 };
const RUN_ID = '1f0c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const FLOW_RUN_ID = '0193f2a4-7b1c-7d2e-9f3a-4b5c6d7e8f90';

/** A body as the JSON body parser hands it over (parsed from text, marked). */
function parsed(body: unknown): unknown {
  const value: unknown = JSON.parse(JSON.stringify(body));
  if (value !== null && typeof value === 'object') {
    markJsonBody(value);
  }
  return value;
}

/** What the framework path makes of a body: the DTO's plain values, or the 422's issues. */
async function framework(body: unknown, metatype: ArgumentMetadata['metatype']) {
  try {
    const dto: unknown = await pipe.transform(body, { type: 'body', metatype, data: undefined });
    return { ok: true as const, value: JSON.parse(JSON.stringify(dto)) as unknown };
  } catch (err) {
    if (err instanceof RequestValidationError) {
      return { ok: false as const, issues: err.issues };
    }
    throw err;
  }
}

/** What the fast path takes (as TaskRunWritesFastPath does: the acceptor, then the pipe's text checks). */
function fast(accept: (body: unknown) => unknown, body: unknown): unknown {
  const dto = accept(body);
  return dto !== undefined && checkPlainBody(dto, limits).length === 0 ? dto : undefined;
}

const validCreates: Record<string, unknown>[] = [
  { task_key: 'k', dynamic_key: '0' },
  { task_key: 'k', dynamic_key: '0', id: RUN_ID, flow_run_id: FLOW_RUN_ID, name: 'n', task_version: '1' },
  { task_key: 'k', dynamic_key: '0', tags: [], labels: {}, task_inputs: {}, empirical_policy: {} },
  { task_key: 'k', dynamic_key: '0', tags: ['a', 'b'], labels: { a: 'x', n: 1.5, b: false } },
  { task_key: 'k', dynamic_key: '0', cache_key: 'ck', cache_expiration: '2030-01-01T00:00:00Z' },
  { task_key: 'k', dynamic_key: '0', cache_expiration: '2030-01-01T00:00:00+02:00' },
  { task_key: 'k', dynamic_key: '0', cache_expiration: '2030-01-01T00:00:00' },
  {
    task_key: 'k',
    dynamic_key: '0',
    state: { type: 'SCHEDULED', state_details: { deferred: true, scheduled_time: '2030-01-01T00:00:00Z' } },
  },
  {
    task_key: 'k',
    dynamic_key: '0',
    state: { type: 'PENDING', name: 'P', message: 'm', data: [1, { a: 2 }] },
  },
  { task_key: 'k', dynamic_key: '0', state: { type: 'RUNNING', data: 'text', state_details: {} } },
  { task_key: 'k', dynamic_key: '0', state: null, id: null, name: null, tags: null, labels: null },
  {
    task_key: 'k',
    dynamic_key: '0',
    task_inputs: {
      x: [
        { input_type: 'task_run', id: RUN_ID },
        { input_type: 'parameter', name: 'p' },
      ],
      y: [{ input_type: 'constant', type: 'int' }, { id: RUN_ID }],
      z: [],
    },
  },
  { task_key: 'k', dynamic_key: '0', empirical_policy: { retries: 2, retry_delay: [1, 2], toString: 1 } },
  { task_key: 'ünïcode ✓', dynamic_key: '𝄞', labels: { ключ: 'значение' } },
  { dynamic_key: '0', task_key: 'k', flow_run_id: '00000000-0000-0000-0000-000000000000' },
  { task_key: 'k', dynamic_key: '0', id: RUN_ID.toUpperCase() },
];

const validSetStates: Record<string, unknown>[] = [
  { state: { type: 'RUNNING' } },
  { state: { type: 'COMPLETED', data: { result: 1 } }, force: true },
  { state: { type: 'FAILED', message: 'boom', name: 'Failed' }, force: false },
  { state: { type: 'SCHEDULED', state_details: { scheduled_time: '2030-01-01T00:00:00Z' } }, force: null },
];

/** Values each field is replaced with by the fuzzer: every JSON type, near misses of every check. */
const ODD_VALUES: unknown[] = [
  null,
  0,
  1.5,
  -1,
  '',
  'x',
  true,
  false,
  [],
  ['a', 1],
  ['a'],
  {},
  { a: { b: 1 } },
  { a: 'b' },
  'nope',
  RUN_ID,
  RUN_ID.replace(/-/g, ''),
  '1f0c2a34-5b6d-0e7f-8a9b-0c1d2e3f4a5b',
  '{1f0c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b}',
  '2030-01-01T00:00:00Z',
  '2030-01-01',
  'soon',
  'RUNNING',
  { type: 'RUNNING' },
  { type: 'RUNNING', timestamp: '2030-01-01T00:00:00Z' },
  { type: 'RUNNING', id: RUN_ID },
  { type: 'RUNNING', name: 5 },
  { type: 'RUNNING', state_details: [] },
  { type: 'RUNNING', state_details: { deferred: 'yes' } },
  { type: 'running' },
  { type: 'RUNNING', toString: 'x' },
  { x: [{ input_type: 'task_run', id: 'nope' }] },
  { x: [{ input_type: 'bogus' }] },
  { x: {} },
  { 'nul\u0000': 1 },
  'nul\u0000',
  '\ud800',
];
const CREATE_KEYS = [
  'id',
  'state',
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
  'bogus',
  'toString',
  'constructor',
  '__proto__',
];

/** A deterministic generator (the same cases on every run). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function mutants(bases: Record<string, unknown>[], keys: string[], count: number): unknown[] {
  const random = lcg(12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const body: Record<string, unknown> = { ...pick(bases) };
    const changes = 1 + Math.floor(random() * 2);
    for (let c = 0; c < changes; c++) {
      const key = pick(keys);
      if (random() < 0.15) {
        delete body[key];
      } else {
        Object.defineProperty(body, key, {
          value: pick(ODD_VALUES),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    out.push(body);
  }
  return out;
}

describe('task-run write acceptors (the fast path)', () => {
  describe.each([
    ['TaskRunCreate', CreateTaskRunDto, acceptCreateBody, validCreates, CREATE_KEYS],
    [
      'set_state',
      SetTaskRunStateDto,
      acceptSetStateBody,
      validSetStates,
      ['state', 'force', 'bogus', 'valueOf'],
    ],
  ] as const)('%s', (_name, metatype, accept, valid, keys) => {
    it('should take every valid body, and hand the service what the validation pipe would', async () => {
      for (const raw of valid) {
        const body = parsed(raw);
        const taken = fast(accept, body);
        expect({ raw, taken: taken !== undefined }).toEqual({ raw, taken: true });
        const result = await framework(body, metatype);
        expect(JSON.parse(JSON.stringify(taken))).toEqual(result.ok && result.value);
      }
    });

    it('should never take a body the validation pipe refuses or changes (2,000 mutated bodies)', async () => {
      let taken = 0;
      let refusedByPipe = 0;
      for (const raw of mutants(valid, [...keys], 2000)) {
        const body = parsed(raw);
        const result = await framework(body, metatype);
        const dto = fast(accept, body);
        if (!result.ok) {
          refusedByPipe++;
        }
        if (dto !== undefined) {
          taken++;
          expect({ raw, refusedByPipe: result.ok ? [] : result.issues }).toEqual({ raw, refusedByPipe: [] });
          expect(JSON.parse(JSON.stringify(dto))).toEqual(result.ok && result.value);
        }
      }
      // Both kinds occur: the property is not vacuous.
      expect(taken).toBeGreaterThan(100);
      expect(refusedByPipe).toBeGreaterThan(500);
    });

    it('should leave bodies that are not JSON objects to the framework', () => {
      for (const raw of [null, [1, 2], 'text', 3, [{ task_key: 'k', dynamic_key: '0' }]]) {
        expect(accept(parsed(raw))).toBeUndefined();
      }
      // An object the JSON body parser did not produce (not marked): never taken.
      expect(accept({ ...valid[0] })).toBeUndefined();
    });
  });
});
