import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { TcpProxy } from '../utils/tcp-proxy';
import { createTestDatabase } from '../utils/test-database';

/**
 * PostgreSQL going away under the app (as during a restart or failover), simulated with a TCP proxy so only
 * this app's connections are cut: readiness turns 503, requests answer 503 (never 500, never hang), metrics
 * still answer, and everything comes back by itself once the database is reachable again.
 */
describe('PostgreSQL outage and recovery', () => {
  let t: TestApp;
  let proxy: TcpProxy;

  beforeAll(async () => {
    const direct = await createTestDatabase();
    const proxied = await TcpProxy.forUrl(direct);
    proxy = proxied.proxy;
    t = await createTestApp({
      databaseUrl: proxied.url,
      env: { LOG_LEVEL: 'fatal', DATABASE_CONNECT_TIMEOUT: '2' },
    });
  });

  afterAll(async () => {
    await proxy.restore();
    await t.close();
    await proxy.cut();
  });

  it('should be ready while the database answers', async () => {
    await request(t.baseUrl).get('/api/ready').expect(200);
    await request(t.baseUrl).get('/api/admin/dead_letters').expect(200);
  });

  it('should turn /api/ready 503 naming the database, and answer 503 to requests that need it', async () => {
    await proxy.cut();
    const ready = await request(t.baseUrl).get('/api/ready').timeout(10_000).expect(503);
    expect(ready.body).toMatchObject({ ready: false, database: { ok: false } });
    expect(ready.body.down[0]).toMatch(/^database: /);
    const list = await request(t.baseUrl).get('/api/admin/dead_letters').timeout(15_000);
    expect({ status: list.status, body: list.body }).toEqual({
      status: 503,
      body: { exception_message: 'Service Unavailable' },
    });
    // Liveness and metrics do not depend on the database.
    await request(t.baseUrl).get('/api/health').expect(200);
    const metrics = await request(t.baseUrl).get('/api/metrics').timeout(10_000).expect(200);
    expect(metrics.text).toContain('http_requests_total');
  });

  it('should recover by itself once the database is back', async () => {
    await proxy.restore();
    await expectEventually(() => request(t.baseUrl).get('/api/ready').expect(200), {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    await request(t.baseUrl).get('/api/admin/dead_letters').expect(200);
  });
});

describe('PostgreSQL unreachable without an answer (network partition)', () => {
  let t: TestApp;
  let proxy: TcpProxy;

  beforeAll(async () => {
    const proxied = await TcpProxy.forUrl(await createTestDatabase());
    proxy = proxied.proxy;
    t = await createTestApp({
      databaseUrl: proxied.url,
      env: { LOG_LEVEL: 'fatal', DATABASE_CONNECT_TIMEOUT: '2', DATABASE_STATEMENT_TIMEOUT: '2' },
    });
  });

  afterAll(async () => {
    await proxy.restore();
    await t.close();
    await proxy.cut();
  });

  it('should answer readiness, liveness and metrics within bounded time, then recover', async () => {
    await request(t.baseUrl).get('/api/ready').expect(200);
    await proxy.blackhole();
    const started = Date.now();
    const ready = await request(t.baseUrl).get('/api/ready').timeout(10_000).expect(503);
    expect(ready.body.down[0]).toMatch(/^database: /);
    expect(Date.now() - started).toBeLessThan(5000);
    await request(t.baseUrl).get('/api/health').timeout(2000).expect(200);
    await request(t.baseUrl).get('/api/metrics').timeout(5000).expect(200);
    const list = await request(t.baseUrl).get('/api/admin/dead_letters').timeout(20_000);
    expect(list.status).toBe(503);
    await proxy.restore();
    await expectEventually(() => request(t.baseUrl).get('/api/admin/dead_letters').expect(200), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await request(t.baseUrl).get('/api/ready').expect(200);
  }, 60_000);
});
