/**
 * Hostile HTTP requests for any route of the OpenAPI document: malformed JSON, wrong types, nulls, huge and
 * deeply nested values, invalid UUIDs and dates, bad percent-encodings. `checkAnswer` states what a clean
 * answer is: never a 5xx, and a 4xx carries a JSON body that says what was wrong.
 */
import fc from 'fast-check';
import request from 'supertest';
import { DiscoveredRoute, encodeComponent, fillPath } from './discovery';

export interface FuzzRequest {
  route: DiscoveredRoute;
  pathValues: Record<string, string>;
  /** Raw query string (already encoded, possibly badly on purpose). */
  query: string;
  /** Raw body text, or undefined for none. */
  body?: string;
  contentType: string;
}

export interface FuzzAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** Field names Prefect's bodies and filters use: wrong values under right names reach the validators. */
export const PREFECT_FIELDS = [
  'id',
  'name',
  'flow_id',
  'flow_run_id',
  'task_run_id',
  'task_key',
  'dynamic_key',
  'cache_key',
  'state',
  'type',
  'message',
  'data',
  'state_details',
  'timestamp',
  'tags',
  'labels',
  'parameters',
  'task_inputs',
  'empirical_policy',
  'limit',
  'offset',
  'sort',
  'force',
  'start_time',
  'end_time',
  'expected_start_time',
  'next_scheduled_start_time',
  'occurred',
  'event',
  'resource',
  'related',
  'payload',
  'filter',
  'since',
  'until',
  'any_',
  'like_',
  'before_',
  'after_',
  'keys',
  'client_id',
  'task_keys',
  'concurrency_limit',
  'tag',
  'slots',
  'active',
  'flows',
  'flow_runs',
  'task_runs',
  'deployments',
  'page_size',
  'backfill',
  'include_replayed',
  'source',
  'run_count',
  'version',
];

const NASTY_STRINGS = [
  '',
  ' ',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  '0x10',
  'true',
  '[]',
  '{}',
  '%',
  '%zz',
  '../..',
  '\u0000',
  '\uD800',
  '😀'.repeat(50),
  'not-a-uuid',
  '00000000-0000-0000-0000-00000000000g',
  '2026-13-45T99:99:99Z',
  '2026-02-30T00:00:00Z',
  'yesterday',
  '0000-00-00',
  '9999-12-31T23:59:59.999999999Z',
  '-infinity',
  "' OR 1=1 --",
  '<script>',
  'x'.repeat(5000),
];

const nastyString = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.uuid(),
);

const nastyScalar: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.constantFrom(null, true, false, 0, -1, -0, 1e308, -1e308, 2 ** 53 + 1, 0.5, Number.MAX_SAFE_INTEGER),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyScalar },
  { weight: 1, arbitrary: fc.array(nastyScalar, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...PREFECT_FIELDS), nastyScalar, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

function nest(depth: number, leaf: string, arrays: boolean): string {
  return arrays
    ? '['.repeat(depth) + leaf + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

/** Body text: mostly JSON of the wrong shape, sometimes not JSON at all, sometimes huge or deep. */
export const nastyBody: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '{', '{"a":', '[1,', 'nul', '{"a":1}}', "{'a':1}", '{"a":NaN}', '\u0000'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
  {
    weight: 3,
    arbitrary: fc
      .dictionary(fc.constantFrom(...PREFECT_FIELDS), nastyValue, { maxKeys: 6 })
      .map((v) => JSON.stringify(v)),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('null', 'true', '0', '"x"', '[]', '[null]', '{}') },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 200, max: 50_000 }), fc.boolean(), fc.constantFrom(...PREFECT_FIELDS))
      .map(([depth, arrays, field]) => `{"${field}":${nest(depth, '1', arrays)}}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100_000, max: 2_000_000 }), fc.constantFrom(...PREFECT_FIELDS))
      .map(([size, field]) => JSON.stringify({ [field]: 'x'.repeat(size) })),
  },
);

const nastyQuery: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...PREFECT_FIELDS), fc.string({ maxLength: 10 })),
      fc.oneof(
        nastyString.map((s) => encodeComponent(s)),
        fc.constantFrom('%zz', '%', '%E0%A4%A', 'a[b]=c', '[]'),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${encodeComponent(k)}=${v}`).join('&'));

/** A hostile request for one of `routes`. */
export function fuzzRequest(routes: DiscoveredRoute[]): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      index: fc.nat({ max: routes.length - 1 }),
      pathValue: nastyString,
      query: fc.oneof(fc.constant(''), nastyQuery),
      body: nastyBody,
      contentType: fc.constantFrom(
        'application/json',
        'application/json',
        'application/json',
        'text/plain',
        'application/json; charset=latin1',
        'application/x-www-form-urlencoded',
      ),
    })
    .map(({ index, pathValue, query, body, contentType }) => {
      const route = routes[index];
      const pathValues = Object.fromEntries(
        route.parameters.filter((p) => p.in === 'path').map((p) => [p.name, pathValue]),
      );
      return { route, pathValues, query, body: route.method === 'get' ? undefined : body, contentType };
    });
}

/** Sends the request (10 s at most: a hang fails the test). */
export async function send(baseUrl: string, r: FuzzRequest, authorization?: string): Promise<FuzzAnswer> {
  const url = fillPath(r.route.path, r.pathValues) + (r.query ? `?${r.query}` : '');
  let req = request(baseUrl)[r.route.method](url).timeout(10_000);
  if (authorization) {
    req = req.set('Authorization', authorization);
  }
  if (r.body !== undefined) {
    req = req.set('Content-Type', r.contentType).send(r.body);
  }
  const res = await req;
  return { status: res.status, body: res.body, text: res.text };
}

/** Why an answer is not clean, or undefined when it is. */
export function problemWith(answer: FuzzAnswer): string | undefined {
  if (answer.status >= 500) {
    return `answered ${answer.status}: ${answer.text.slice(0, 300)}`;
  }
  if (answer.status >= 400) {
    const body = answer.body as Record<string, unknown> | null;
    const clear =
      body !== null &&
      typeof body === 'object' &&
      ['detail', 'exception_message', 'exception_detail'].some((k) => k in body);
    if (!clear) {
      return `answered ${answer.status} without a detail: ${answer.text.slice(0, 300)}`;
    }
  }
  return undefined;
}

/** A compact description of a request for failure messages (bodies truncated). */
export function describeRequest(r: FuzzRequest): string {
  return JSON.stringify({
    method: r.route.method,
    path: fillPath(r.route.path, r.pathValues),
    query: r.query.slice(0, 200),
    contentType: r.contentType,
    body:
      r.body === undefined
        ? undefined
        : `${r.body.slice(0, 200)}${r.body.length > 200 ? `… (${r.body.length} chars)` : ''}`,
  });
}
