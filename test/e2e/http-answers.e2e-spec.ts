import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { serveDashboard } from '../../src/dashboard/dashboard-static';
import { createTestApp, TestApp } from '../utils/create-test-app';

/** The headers of the hot write routes' answers, as Prefect's server sends them (docs/performance.md). */
describe('HTTP answers of the task-run write routes', () => {
  let t: TestApp;
  const api = () => request(t.baseUrl);

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('should answer creates and set_state with JSON, a length and a request id, without ETag or X-Powered-By', async () => {
    const created = await api()
      .post('/api/task_runs/')
      .send({ task_key: 'headers', dynamic_key: '0' })
      .expect(201);
    const set = await api()
      .post(`/api/task_runs/${created.body.id as string}/set_state`)
      .send({ state: { type: 'RUNNING' } })
      .expect(201);
    const again = await api()
      .post('/api/task_runs/')
      .send({ task_key: 'headers', dynamic_key: '0' })
      .expect(200);
    const read = await api()
      .get(`/api/task_runs/${created.body.id as string}`)
      .expect(200);
    for (const res of [created, set, again, read]) {
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers.etag).toBeUndefined();
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
    expect(set.body.status).toBe('ACCEPT');
    expect(again.body.id).toBe(created.body.id);
  });

  it('should answer a bad create with the same 422 shape, without ETag', async () => {
    const res = await api().post('/api/task_runs/').send({ task_key: 5, dynamic_key: '0' }).expect(422);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers.etag).toBeUndefined();
    expect(res.body).toEqual({
      exception_message: 'Invalid request received.',
      exception_detail: [expect.objectContaining({ loc: ['body', 'task_key'], input: 5 })],
      request_body: { task_key: 5, dynamic_key: '0' },
    });
  });
});

describe('dashboard page revalidation', () => {
  let app: NestExpressApplication;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    const moduleRef = await Test.createTestingModule({}).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    app.set('etag', false); // as configureApp
    serveDashboard(app, dir);
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should keep an ETag on index.html so a reload is a 304', async () => {
    const first = await request(app.getHttpServer()).get('/task-runs/x').expect(200);
    const etag = first.headers.etag;
    expect(etag).toMatch(/^W\/".+"$/);
    await request(app.getHttpServer()).get('/').set('If-None-Match', etag).expect(304);
  });
});
