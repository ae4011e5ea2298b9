import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { discoverHttpRoutes, fillPath } from '../utils/discovery';

const AUTH_STRING = 'admin:s3cret';
const basic = (s: string): string => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;
const GOOD = basic(AUTH_STRING);
const UNAUTHORIZED = { exception_message: 'Unauthorized' };
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
/** Open for probes, as upstream (`/api/health`, `/api/ready`). */
const PUBLIC = new Set(['/api/health', '/api/ready']);

describe('auth (PREFECT_SERVER_API_AUTH_STRING)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { PREFECT_SERVER_API_AUTH_STRING: AUTH_STRING } });
  });

  afterAll(async () => {
    await t.close();
  });

  describe('probes', () => {
    it('should answer /api/health without credentials', async () => {
      const res = await request(t.baseUrl).get('/api/health').expect(200);
      expect(res.body).toBe(true);
    });

    it('should answer /api/ready without credentials, even with wrong ones', async () => {
      await request(t.baseUrl).get('/api/ready').expect(200);
      await request(t.baseUrl).get('/api/ready').set('Authorization', basic('wrong')).expect(200);
    });
  });

  describe('dead letters', () => {
    it('should refuse a request without credentials with 401 and upstream body', async () => {
      const res = await request(t.baseUrl).get('/api/admin/dead_letters').expect(401);
      expect(res.body).toEqual(UNAUTHORIZED);
    });

    it.each([
      ['a wrong auth string', basic('admin:wrong')],
      ['a prefix of it', basic('admin:s3cre')],
      ['the Bearer scheme', `Bearer ${AUTH_STRING}`],
      ['the raw string', AUTH_STRING],
      ['malformed base64', 'Basic %%%'],
      ['an empty header', ''],
    ])('should refuse %s with 401', async (_name, header) => {
      const res = await request(t.baseUrl)
        .get('/api/admin/dead_letters')
        .set('Authorization', header)
        .expect(401);
      expect(res.body).toEqual(UNAUTHORIZED);
    });

    it('should serve the request with the right credentials', async () => {
      const res = await request(t.baseUrl)
        .get('/api/admin/dead_letters')
        .set('Authorization', GOOD)
        .expect(200);
      expect(res.body).toEqual([]);
    });

    it('should refuse a POST without credentials before reading its body', async () => {
      const res = await request(t.baseUrl)
        .post(`/api/admin/dead_letters/${ZERO_UUID}/replay`)
        .set('content-type', 'application/json')
        .send('{"broken":')
        .expect(401);
      expect(res.body).toEqual(UNAUTHORIZED);
    });

    it('should read the body once the credentials are right', async () => {
      await request(t.baseUrl)
        .post(`/api/admin/dead_letters/${ZERO_UUID}/replay`)
        .set('Authorization', GOOD)
        .set('content-type', 'application/json')
        .send('{"broken":')
        .expect(422);
    });
  });

  describe('CORS preflight', () => {
    it('should answer a preflight without credentials (browsers send none)', async () => {
      const res = await request(t.baseUrl)
        .options('/api/admin/dead_letters')
        .set('Origin', 'http://ui.example')
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization')
        .expect(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    });
  });

  describe('metrics', () => {
    it('should protect /api/metrics (what Prometheus basic_auth with user admin, password s3cret sends)', async () => {
      await request(t.baseUrl).get('/api/metrics').expect(401);
      const res = await request(t.baseUrl).get('/api/metrics').auth('admin', 's3cret').expect(200);
      expect(res.text).toContain('http_requests_total');
    });
  });

  describe('OpenAPI document and docs page', () => {
    it.each(['/api/openapi.json', '/api/openapi.yaml', '/api/docs'])(
      'should protect %s, asking browsers for basic credentials',
      async (path) => {
        const res = await request(t.baseUrl).get(path).expect(401);
        expect(res.body).toEqual(UNAUTHORIZED);
        expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
        await request(t.baseUrl).get(path).set('Authorization', GOOD).expect(200);
      },
    );
  });

  describe('every route in the OpenAPI document', () => {
    it('should answer 401 without credentials unless it is a probe, and not 401 with them', async () => {
      const routes = await discoverHttpRoutes(t.baseUrl, GOOD);
      expect(routes.length).toBeGreaterThan(3);
      const checked: string[] = [];
      for (const route of routes) {
        const path = fillPath(
          route.path,
          Object.fromEntries(route.parameters.filter((p) => p.in === 'path').map((p) => [p.name, ZERO_UUID])),
        );
        const without = await request(t.baseUrl)[route.method](path).send({});
        const withAuth = await request(t.baseUrl)[route.method](path).set('Authorization', GOOD).send({});
        if (PUBLIC.has(route.path)) {
          expect({ route: route.path, status: without.status }).toEqual({ route: route.path, status: 200 });
        } else {
          expect({
            route: `${route.method} ${route.path}`,
            status: without.status,
            body: without.body,
          }).toEqual({
            route: `${route.method} ${route.path}`,
            status: 401,
            body: UNAUTHORIZED,
          });
        }
        expect({ route: `${route.method} ${route.path}`, status: withAuth.status }).not.toEqual({
          route: `${route.method} ${route.path}`,
          status: 401,
        });
        checked.push(`${route.method.toUpperCase()} ${route.path}`);
      }
      expect(checked).toEqual(expect.arrayContaining(['GET /api/admin/dead_letters', 'GET /api/metrics']));
    });
  });
});

describe('auth unset', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('should serve every route without credentials', async () => {
    await request(t.baseUrl).get('/api/admin/dead_letters').expect(200);
    await request(t.baseUrl).get('/api/metrics').expect(200);
    await request(t.baseUrl).get('/api/openapi.json').expect(200);
  });

  it('should ignore credentials, right or wrong', async () => {
    await request(t.baseUrl).get('/api/admin/dead_letters').set('Authorization', 'Basic garbage').expect(200);
  });
});
