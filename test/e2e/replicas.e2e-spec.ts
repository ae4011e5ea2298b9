import { spawn } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { freePort, ServerProcess, startApiReplica, startServicesProcess } from '../utils/processes';
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

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    servicesMetricsPort = await freePort();
    const env = {
      DATABASE_URL: databaseUrl,
      DATABASE_MIGRATE_ON_START: 'false',
      PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
      REDIS_URL,
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
  });

  it('should have both replicas ready, running no services themselves', async () => {
    for (const replica of [replicaA, replicaB]) {
      const res = await request(replica.baseUrl).get('/api/ready').expect(200);
      expect(res.body.services.every((s: { enabled: boolean }) => !s.enabled)).toBe(true);
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
    for (const name of ['services', 'api-b', 'api-a']) expect(out).toContain(`${name} stopped (exit 0)`);
    expect(out).toMatch(/dropped database prefect_replicas_/);
  }, 150_000);
});
