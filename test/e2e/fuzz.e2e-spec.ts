import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { discoverHttpRoutes, discoverWebsocketPaths, DiscoveredRoute } from '../utils/discovery';
import { describeRequest, FuzzRequest, fuzzRequest, problemWith, send } from '../utils/http-fuzz';
import { PROBE_SOCKET_PATH, ProbeModule } from '../utils/probe.module';
import { authFrame, exchange, fuzzWebsocket } from '../utils/ws-fuzz';

/** Seconds of random HTTP requests (FUZZ_SECONDS to scale; the fixed sweep runs on top). */
const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
/** Seconds of random frames per websocket path. */
const WS_FUZZ_SECONDS = Number(process.env.WS_FUZZ_SECONDS ?? 3);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

const BAD_PATH_VALUES = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  '%zz',
  'x'.repeat(3000),
  '..',
  'null',
];
const BAD_BODIES: (string | undefined)[] = [
  undefined,
  '{"broken":',
  'null',
  '[]',
  '"text"',
  '{"name":null,"id":123,"state":"RUNNING","limit":-1,"tags":"x","parameters":[],"start_time":"2026-13-45"}',
  '{"name":{},"flow_run_id":"not-a-uuid","state":{"type":1,"timestamp":"yesterday"},"offset":"a"}',
  `{"name":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  JSON.stringify({ name: 'x'.repeat(2_000_000) }),
];

describe('fuzz: every HTTP route and websocket with hostile input', () => {
  let t: TestApp;
  let routes: DiscoveredRoute[];

  beforeAll(async () => {
    // fatal only: the 413/422 noise of thousands of bad requests is expected here.
    t = await createTestApp({ imports: [ProbeModule], env: { LOG_LEVEL: 'fatal' } });
    routes = await discoverHttpRoutes(t.baseUrl);
  });

  afterAll(async () => {
    await t.close();
  });

  const expectHealthy = async (): Promise<void> => {
    await request(t.baseUrl).get('/api/health').timeout(5000).expect(200);
    const ready = await request(t.baseUrl).get('/api/ready').timeout(5000);
    expect({ status: ready.status, body: ready.body }).toMatchObject({ status: 200 });
  };

  it('should discover the routes from the served OpenAPI document', () => {
    const names = routes.map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(names).toEqual(
      expect.arrayContaining(['GET /api/health', 'GET /api/admin/dead_letters/{id}', 'POST /api/test-probe']),
    );
  });

  it('should answer a fixed sweep of bad requests on every route cleanly', async () => {
    const problems: string[] = [];
    for (const route of routes) {
      for (const [i, body] of BAD_BODIES.entries()) {
        const pathValue = BAD_PATH_VALUES[i % BAD_PATH_VALUES.length];
        const r: FuzzRequest = {
          route,
          pathValues: Object.fromEntries(
            route.parameters.filter((p) => p.in === 'path').map((p) => [p.name, pathValue]),
          ),
          query: i % 2 ? 'limit=-1&offset=abc&sort=%zz' : '',
          body: route.method === 'get' ? undefined : body,
          contentType: 'application/json',
        };
        const problem = problemWith(await send(t.baseUrl, r));
        if (problem) {
          problems.push(`${describeRequest(r)} → ${problem}`);
        }
      }
    }
    expect(problems).toEqual([]);
    await expectHealthy();
  }, 120_000);

  it(
    `should answer random hostile requests cleanly for ${FUZZ_SECONDS} s`,
    async () => {
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(fuzzRequest(routes), async (r) => {
          runs += 1;
          const problem = problemWith(await send(t.baseUrl, r));
          if (problem) {
            throw new Error(`${describeRequest(r)} → ${problem}`);
          }
        }),
        {
          numRuns: 100_000,
          interruptAfterTimeLimit: FUZZ_SECONDS * 1000,
          markInterruptAsFailure: false,
          endOnFailure: true,
          seed: SEED,
        },
      );
      expect(runs).toBeGreaterThan(routes.length);
      await expectHealthy();
    },
    (FUZZ_SECONDS + 60) * 1000,
  );

  it('should close every websocket cleanly (or carry on) on hostile frames', async () => {
    const paths = discoverWebsocketPaths(t.app);
    expect(paths).toContain(PROBE_SOCKET_PATH);
    for (const path of paths) {
      const runs = await fuzzWebsocket(`${t.wsUrl}${path}`, {
        token: null,
        budgetMs: WS_FUZZ_SECONDS * 1000,
        seed: SEED,
      });
      expect({ path, runs: runs > 0 }).toEqual({ path, runs: true });
    }
    // Still serving sockets and HTTP afterwards.
    const out = await exchange(`${t.wsUrl}${PROBE_SOCKET_PATH}`, [authFrame(null), '{"type":"ping"}']);
    expect(out.messages.map((m) => JSON.parse(m) as unknown)).toEqual([
      { type: 'auth_success' },
      { type: 'pong' },
    ]);
    await expectHealthy();
  }, 120_000);
});
