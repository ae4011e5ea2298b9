import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { expectEventually } from '../utils/expect-eventually';
import { freePort, ServerProcess, startApiReplica, startServicesProcess } from '../utils/processes';
import { dropRedisStream } from '../utils/redis-stream';
import { createTestDatabase, currentRun } from '../utils/test-database';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The scale-out shape of compose.yaml and scripts/replicas.sh, as real processes: two API replicas
 * (SERVER_RUN_SERVICES=false) and one `services start`, on one database and Redis.
 */
describe('two API replicas and one services process on one database and Redis', () => {
  let databaseUrl: string;
  let replicaA: ServerProcess;
  let replicaB: ServerProcess;
  let services: ServerProcess;
  let servicesMetricsPort: number;
  const started: ServerProcess[] = [];
  const stream = `ptr-test:${randomUUID()}`;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    servicesMetricsPort = await freePort();
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_MIGRATE_ON_START: 'false',
      PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
      REDIS_URL,
      // A stream of its own: test runs (and engineers) share the Redis server.
      PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
    };
    [replicaA, replicaB, services] = await Promise.all([
      startApiReplica('api-a', env),
      startApiReplica('api-b', env),
      startServicesProcess({ ...env, SERVICES_METRICS_PORT: String(servicesMetricsPort) }),
    ]);
    started.push(replicaA, replicaB, services);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(started.map((p) => p.kill()));
    await dropRedisStream(REDIS_URL, stream);
  });

  it('should have both replicas ready, running no services themselves', async () => {
    for (const replica of [replicaA, replicaB]) {
      const res = await request(replica.baseUrl).get('/api/ready').expect(200);
      expect((res.body.services as { enabled: boolean }[]).every((s) => !s.enabled)).toBe(true);
    }
  });

  it('should serve metrics from every process', async () => {
    for (const replica of [replicaA, replicaB]) {
      const res = await request(replica.baseUrl).get('/api/metrics').expect(200);
      expect(res.text).toContain('http_requests_total');
    }
    const res = await request(`http://127.0.0.1:${servicesMetricsPort}`).get('/metrics').expect(200);
    expect(res.text).toContain('process_cpu_user_seconds_total');
    await request(`http://127.0.0.1:${servicesMetricsPort}`).get('/elsewhere').expect(404);
  });

  it('should keep serving from one replica when the other is killed', async () => {
    expect(await replicaA.kill()).toBe('SIGKILL');
    await request(replicaB.baseUrl).get('/api/ready').expect(200);
    await request(replicaB.baseUrl).get('/api/admin/dead_letters').expect(200);
  });

  it('should stop the services process and a replica cleanly on SIGTERM (exit 0)', async () => {
    expect(await services.stop()).toBe(0);
    expect(await replicaB.stop()).toBe(0);
  });
});

describe('scripts/replicas.sh', () => {
  it('should start two replicas and the services process, check them, and stop them all with exit 0', async () => {
    const [a, b, m] = [await freePort(), await freePort(), await freePort()];
    const child = spawn('bash', [join(__dirname, '..', '..', 'scripts', 'replicas.sh'), '--dev'], {
      env: {
        ...process.env,
        ADMIN_DATABASE_URL: currentRun().adminUrl,
        API_PORT_A: String(a),
        API_PORT_B: String(b),
        SERVICES_METRICS_PORT: String(m),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, out }).toEqual({ code: 0, out: expect.stringContaining('all three up') });
    for (const name of ['services', 'api-b', 'api-a']) {
      expect(out).toContain(`${name} stopped (exit 0)`);
    }
    expect(out).toMatch(/dropped database prefect_replicas_/);
  }, 150_000);
});

/**
 * With the events feature present (it lives on its own branch until merged; skipped before): events posted to
 * either replica are persisted once; killing a replica (SIGKILL) or restarting the services process (SIGTERM)
 * under load loses nothing that was accepted.
 */
const HAS_EVENTS = existsSync(join(__dirname, '..', '..', 'src', 'events', 'events.controller.ts'));

(HAS_EVENTS ? describe : describe.skip)('events across two replicas and a services process (Redis)', () => {
  const started: ServerProcess[] = [];
  let env: Record<string, string>;
  const NAME = `test.replicas.${randomUUID().slice(0, 8)}`;
  const stream = `ptr-test:${randomUUID()}`;

  beforeAll(async () => {
    env = {
      DATABASE_URL: await createTestDatabase(),
      DATABASE_MIGRATE_ON_START: 'false',
      PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
      REDIS_URL,
      PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.1',
    };
  });

  afterAll(async () => {
    await Promise.all(started.map((p) => p.kill()));
    await dropRedisStream(REDIS_URL, stream);
  });

  const event = (i: number): Record<string, unknown> => ({
    id: randomUUID(),
    occurred: new Date().toISOString(),
    event: NAME,
    resource: { 'prefect.resource.id': `test.replicas.resource.${i % 5}` },
    related: [],
    payload: { i },
  });

  /** Posts `count` events, 5 per request, to the replicas in turn; returns the ids accepted (204). */
  const post = async (
    replicas: ServerProcess[],
    count: number,
    during?: () => Promise<void>,
  ): Promise<string[]> => {
    const accepted: string[] = [];
    const batches = Array.from({ length: Math.ceil(count / 5) }, (_, b) =>
      Array.from({ length: Math.min(5, count - b * 5) }, (_, k) => event(b * 5 + k)),
    );
    let sideEffect: Promise<void> | undefined;
    for (const [b, batch] of batches.entries()) {
      if (b === Math.floor(batches.length / 2) && during) {
        sideEffect = during();
      }
      const res = await request(replicas[b % replicas.length].baseUrl)
        .post('/api/events')
        .send(batch);
      if (res.status === 204) {
        accepted.push(...batch.map((e) => e.id as string));
      }
    }
    await sideEffect;
    return accepted;
  };

  const persistedIds = async (baseUrl: string): Promise<string[]> => {
    const ids: string[] = [];
    let res = await request(baseUrl)
      .post('/api/events/filter')
      .send({ filter: { event: { name: [NAME] } }, limit: 50 })
      .expect(200);
    for (;;) {
      ids.push(...(res.body.events as { id: string }[]).map((e) => e.id));
      if (!res.body.next_page) {
        return ids;
      }
      const next = new URL(res.body.next_page as string);
      res = await request(baseUrl).get(`${next.pathname}${next.search}`).expect(200);
    }
  };

  it('should persist every accepted event exactly once through kills and restarts', async () => {
    const [a, b] = await Promise.all([startApiReplica('api-a', env), startApiReplica('api-b', env)]);
    let services = await startServicesProcess(env);
    started.push(a, b, services);

    const first = await post([a, b], 60);
    expect(first).toHaveLength(60);
    // A replica dies without warning: what it accepted is already on the bus.
    await a.kill();
    // The services process is stopped (SIGTERM: flush, exit 0) while events keep coming, then restarted.
    const second = await post([b], 60, async () => {
      const code = await services.stop();
      expect({ code, output: code === 0 ? '' : services.output().slice(-4000) }).toEqual({
        code: 0,
        output: '',
      });
    });
    services = await startServicesProcess(env);
    started.push(services);

    const accepted = [...first, ...second];
    await expectEventually(
      async () => {
        const ids = await persistedIds(b.baseUrl);
        expect(ids.length).toBe(accepted.length);
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const ids = await persistedIds(b.baseUrl);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(accepted));
  }, 150_000);
});
