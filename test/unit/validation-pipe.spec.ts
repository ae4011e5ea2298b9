import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { RequestValidationError, ValidationIssue } from '../../src/common/errors/request-validation.error';
import { checkPlainBody, markCleanBody } from '../../src/common/validation/plain-body-checks';
import { createValidationPipe } from '../../src/common/validation/validation.pipe';
import { CreateFlowDto } from '../../src/flow-runs/dto/flow-runs.dto';
import { CreateTaskRunDto, CountTaskRunsDto } from '../../src/task-runs/dto/task-runs.dto';

const body = (metatype: unknown) => ({ type: 'body' as const, metatype: metatype as never, data: '' });

/** The 422 issues the pipe raises for `value`, or the transformed value when it passes. */
async function run(
  value: unknown,
  metatype: unknown = CreateFlowDto,
  maxObjectKeys = 10_000,
): Promise<{ issues?: ValidationIssue[]; value?: unknown }> {
  const sut = createValidationPipe({ maxObjectKeys });
  try {
    return { value: await sut.transform(value, body(metatype)) };
  } catch (err) {
    if (err instanceof RequestValidationError) {
      return { issues: err.issues };
    }
    throw err;
  }
}

const manyKeys = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

describe('createValidationPipe', () => {
  /**
   * Fastest of `runs` calls, in ms: on a shared machine a call can be preempted or meet a GC, which only ever adds
   * time, so the minimum is the steadiest estimate of the work itself (a median of 3 once gave a ratio of 16 under
   * load).
   */
  const fastest = async (fn: () => Promise<unknown>, runs = 5): Promise<number> => {
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await fn();
      best = Math.min(best, performance.now() - started);
    }
    return best;
  };

  // 4x the keys must cost about 4x the time (quadratic: 16x; 150k keys took 12 s before). Bound 10: noise.
  it('should transform a free-form object in time linear in its keys', async () => {
    const small = { name: 'f', labels: manyKeys(40_000) };
    const large = { name: 'f', labels: manyKeys(160_000) };
    const out = await run(large, CreateFlowDto, 200_000);
    expect(Object.keys((out.value as { labels: object }).labels)).toHaveLength(160_000);
    const ratio =
      (await fastest(() => run(large, CreateFlowDto, 200_000))) /
      (await fastest(() => run(small, CreateFlowDto, 200_000)));
    expect(ratio).toBeLessThan(10);
  });

  it('should refuse unknown keys of a DTO in time linear in their number', async () => {
    const out = await run({ name: 'f', ...manyKeys(1000) }, CreateFlowDto, 200_000);
    expect(out.issues).toHaveLength(20); // the first 20 are enough to say what is wrong
    expect(out.issues![0]).toMatchObject({ loc: ['body', 'k0'], type: 'extra_forbidden' });
    const small = { name: 'f', ...manyKeys(40_000) };
    const large = { name: 'f', ...manyKeys(160_000) };
    const ratio =
      (await fastest(() => run(large, CreateFlowDto, 200_000))) /
      (await fastest(() => run(small, CreateFlowDto, 200_000)));
    expect(ratio).toBeLessThan(10);
  });

  it('should refuse an object with more keys than the cap, naming it and the cap', async () => {
    const out = await run({ name: 'f', labels: manyKeys(10_001) });
    expect(out.issues).toEqual([
      {
        loc: ['body', 'labels'],
        msg: 'Object should have at most 10000 keys, not 10001 (HTTP_BODY_MAX_OBJECT_KEYS)',
        type: 'too_many_keys',
      },
    ]);
    expect((await run({ name: 'f', labels: manyKeys(10_000) })).issues).toBeUndefined();
  });

  it.each(['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty', 'prototype'])(
    'should refuse %s as an extra key like any unknown key',
    async (key) => {
      const value = JSON.parse(`{"name":"f","${key}":{}}`) as unknown;
      const out = await run(value);
      expect(out.issues).toEqual([expect.objectContaining({ loc: ['body', key], type: 'extra_forbidden' })]);
    },
  );

  it('should refuse them in nested typed objects too, with the path', async () => {
    const out = await run(
      JSON.parse('{"task_key":"k","dynamic_key":"0","state":{"type":"PENDING","toString":"x"}}'),
      CreateTaskRunDto,
    );
    expect(out.issues).toEqual([
      expect.objectContaining({ loc: ['body', 'state', 'toString'], type: 'extra_forbidden' }),
    ]);
  });

  it('should keep free-form keys that name functions of objects (toString, valueOf)', async () => {
    const out = await run({ name: 'f', labels: { toString: 'a', valueOf: 'b', x: 1 } });
    expect(out.issues).toBeUndefined();
    expect({ ...(out.value as { labels: object }).labels }).toEqual({ toString: 'a', valueOf: 'b', x: 1 });
  });

  it('should refuse a lone surrogate in a value or a key, naming the field', async () => {
    const lone = await run({ name: 'a\ud800b' });
    expect(lone.issues).toEqual([expect.objectContaining({ loc: ['body', 'name'], type: 'string_unicode' })]);
    const key = await run({ name: 'f', labels: { '\udc00': 'x' } });
    expect(key.issues).toEqual([
      expect.objectContaining({ loc: ['body', 'labels', '\udc00'], type: 'string_unicode' }),
    ]);
    expect((await run({ name: 'ok \ud83d\ude00' })).issues).toBeUndefined(); // a proper pair is fine
  });

  it('should refuse a NUL character in our own words, naming the field', async () => {
    const out = await run({ name: 'f', tags: ['ok', 'nul\u0000'] });
    expect(out.issues).toEqual([
      {
        loc: ['body', 'tags', 1],
        msg: 'String should not contain NUL characters (\\u0000)',
        type: 'string_nul',
        input: 'nul\u0000',
      },
    ]);
  });

  describe('task_inputs', () => {
    const create = (task_inputs: unknown) =>
      run({ task_key: 'k', dynamic_key: '0', task_inputs }, CreateTaskRunDto);
    const id = '3f2b1c7e-8a4d-4b1e-9c7a-2d5e6f708192';

    it("should accept Prefect's typed input references", async () => {
      const out = await create({
        x: [{ input_type: 'task_run', id }],
        y: [
          { input_type: 'parameter', name: 'p' },
          { input_type: 'constant', type: 'int' },
        ],
        z: [{ input_type: 'flow_run', id }],
        __parents__: [{ id }],
        wait_for: [],
      });
      expect(out.issues).toBeUndefined();
    });

    it.each([
      [{ x: 'nope' }, 'x: Input should be a list of task run input references'],
      [{ x: [1] }, 'x[0]: Input should be an object (a task run input reference)'],
      [{ x: [{ input_type: 'task_run', id: 'not-a-uuid' }] }, 'x[0]: A task_run input needs `id` as a UUID'],
      [{ x: [{ input_type: 'parameter' }] }, 'x[0]: A parameter input needs `name` as a string'],
      [{ x: [{ input_type: 'constant', type: 3 }] }, 'x[0]: A constant input needs `type` as a string'],
      [
        { x: [{ input_type: 'bogus' }] },
        "x[0]: input_type should be 'task_run', 'flow_run', 'parameter' or 'constant'",
      ],
      [{ x: [{}] }, 'x[0]: Input should be a task_run, flow_run, parameter or constant reference'],
      [[], 'Input should be a dictionary of parameter name to a list of inputs'],
    ])('should refuse %j', async (taskInputs, msg) => {
      const out = await create(taskInputs);
      expect(out.issues).toEqual([expect.objectContaining({ loc: ['body', 'task_inputs'], msg })]);
    });
  });

  it.each(['flows', 'flow_runs', 'task_runs', 'deployments'])(
    'should refuse a %s filter section that is not an object',
    async (section) => {
      for (const bad of [[], [{}], 'x', 1]) {
        const out = await run({ [section]: bad }, CountTaskRunsDto);
        expect(out.issues?.[0]).toMatchObject({ loc: ['body', section] });
      }
      expect((await run({ [section]: {} }, CountTaskRunsDto)).issues).toBeUndefined();
    },
  );
});

describe('checkPlainBody', () => {
  it('should skip a body marked clean by the JSON middleware (no escapes, no reserved names in its text)', () => {
    const body = { name: 'f', labels: manyKeys(20_001) };
    expect(checkPlainBody(body, { maxObjectKeys: 10 })).toHaveLength(1);
    markCleanBody(body, () => true);
    expect(checkPlainBody(body, { maxObjectKeys: 10 })).toEqual([]);
  });
});
