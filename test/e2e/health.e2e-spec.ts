import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';

describe('health, readiness and error bodies', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('should answer GET /api/health with true', async () => {
    const res = await request(t.baseUrl).get('/api/health').expect(200);
    expect(res.body).toBe(true);
  });

  it('should answer GET /api/ready with 200 when the database answers', async () => {
    const res = await request(t.baseUrl).get('/api/ready').expect(200);
    expect(res.body).toMatchObject({ ready: true, database: { ok: true }, down: [] });
  });

  it('should answer an unknown route with 404 and a detail', async () => {
    const res = await request(t.baseUrl).get('/api/no/such/route').expect(404);
    expect(res.body).toEqual({ detail: 'Not Found' });
  });

  it('should answer malformed JSON with a 422 in FastAPI shape', async () => {
    const res = await request(t.baseUrl)
      .post('/api/admin/dead_letters/00000000-0000-0000-0000-000000000000/replay')
      .set('content-type', 'application/json')
      .send('{"broken":')
      .expect(422);
    expect(res.body).toEqual({
      exception_message: 'Invalid request received.',
      exception_detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }],
      request_body: null,
    });
  });

  it('should answer a non-UUID id with 404, as a route that does not match', async () => {
    await request(t.baseUrl).get('/api/admin/dead_letters/not-a-uuid').expect(404);
  });

  it('should answer an unknown id with 404 and a detail', async () => {
    const res = await request(t.baseUrl)
      .get('/api/admin/dead_letters/00000000-0000-0000-0000-000000000000')
      .expect(404);
    expect(res.body).toEqual({ detail: 'Dead letter not found' });
  });

  it('should answer an invalid query parameter with 422 naming the field', async () => {
    const res = await request(t.baseUrl).get('/api/admin/dead_letters?limit=-1').expect(422);
    expect(res.body.exception_message).toBe('Invalid request received.');
    expect(res.body.exception_detail[0].loc).toEqual(['body', 'limit']);
  });

  it('should serve the OpenAPI document and a docs page', async () => {
    const res = await request(t.baseUrl).get('/api/openapi.json').expect(200);
    expect(res.body.paths['/api/health']).toBeDefined();
    await request(t.baseUrl).get('/api/docs').expect(200);
  });
});
