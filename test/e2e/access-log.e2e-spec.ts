import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { UUID_PATTERN } from '../../src/common/validation/uuid';
import { expectEventually } from '../utils/expect-eventually';
import { runEntry, ServerProcess, startServer, waitForExit } from '../utils/server-process';
import { createTestDatabase } from '../utils/test-database';

interface LogLine {
  level: string;
  msg?: string;
  context?: string;
  request_id?: string;
  method?: string;
  route?: string;
  path?: string;
  status?: number;
  ms?: number;
}

function jsonLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The access-log line of one request, waiting for it to be written (the line follows the answer). */
async function accessLine(server: ServerProcess, requestId: string): Promise<LogLine> {
  for (let i = 0; i < 100; i++) {
    const line = jsonLines(server.output()).find((l) => l.msg === 'request' && l.request_id === requestId);
    if (line) {
      return line;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no access line for ${requestId}:\n${server.output()}`);
}

describe('access logs, request ids and entry points (a real server process)', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    const databaseUrl = await createTestDatabase();
    server = await startServer({
      DATABASE_URL: databaseUrl,
      DATABASE_MIGRATE_ON_START: 'false',
      LOG_LEVEL: 'info',
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('should log one line per request with method, route template, status, duration and the request id', async () => {
    const res = await request(server.baseUrl)
      .post('/api/task_runs/')
      .set('x-request-id', 'client-id-1')
      .send({ task_key: 'k', dynamic_key: '1' })
      .expect(201);
    expect(res.headers['x-request-id']).toBe('client-id-1');
    const line = await accessLine(server, 'client-id-1');
    expect(line).toMatchObject({
      level: 'info',
      context: 'HTTP',
      method: 'POST',
      route: '/api/task_runs',
      path: '/api/task_runs/',
      status: 201,
    });
    expect(typeof line.ms).toBe('number');
  });

  it('should log 4xx answers as warnings, with the route template rather than the raw path', async () => {
    const id = '00000000-0000-0000-0000-000000000001';
    const res = await request(server.baseUrl).get(`/api/task_runs/${id}`).expect(404);
    const requestId = res.headers['x-request-id'];
    expect(requestId).toMatch(UUID_PATTERN); // none offered: the server made one
    expect(await accessLine(server, requestId)).toMatchObject({
      level: 'warn',
      method: 'GET',
      route: '/api/task_runs/:id',
      path: `/api/task_runs/${id}`,
      status: 404,
    });

    const bad = await request(server.baseUrl).post('/api/task_runs/filter').send({ nope: 1 }).expect(422);
    expect(await accessLine(server, bad.headers['x-request-id'])).toMatchObject({
      level: 'warn',
      route: '/api/task_runs/filter',
      status: 422,
    });
  });

  it('should carry the request id on the lines written while handling the request (errors included)', async () => {
    const res = await request(server.baseUrl)
      .post('/api/task_runs/')
      .set('x-request-id', 'conflict-1')
      .send({ task_key: 'k', dynamic_key: '2', flow_run_id: randomUUID() })
      .expect(409);
    expect(res.headers['x-request-id']).toBe('conflict-1');
    await accessLine(server, 'conflict-1');
    const error = jsonLines(server.output()).find((l) => l.msg === 'integrity conflict');
    expect(error).toMatchObject({ level: 'warn', request_id: 'conflict-1' });
  });

  it('should replace a request id that is not a short token', async () => {
    const res = await request(server.baseUrl).get('/api/health').set('x-request-id', 'a b\u00e9'.repeat(10));
    expect(res.headers['x-request-id']).toMatch(UUID_PATTERN);
  });

  it('should keep framework chatter out of info and print the start line with the dashboard and docs URLs', () => {
    const lines = jsonLines(server.output());
    expect(lines.filter((l) => l.context === 'RouterExplorer' || l.context === 'RoutesResolver')).toEqual([]);
    const start = lines.find((l) => l.msg === 'listening') as LogLine & { dashboard: string; docs: string };
    expect(start.dashboard).toBe(`${server.baseUrl}/`);
    expect(start.docs).toBe(`${server.baseUrl}/api/docs`);
  });

  it('should lead /api and /api/ to the docs page', async () => {
    for (const path of ['/api', '/api/']) {
      const res = await request(server.baseUrl).get(path).expect(302);
      expect(res.headers.location).toBe('/api/docs');
    }
    await request(server.baseUrl).get('/api/docs/').expect(200);
  });
});

describe('pretty logs', () => {
  it('should print one uncoloured line per message when stdout is not a terminal', async () => {
    const databaseUrl = await createTestDatabase();
    const child = runEntry('main', {
      DATABASE_URL: databaseUrl,
      DATABASE_MIGRATE_ON_START: 'false',
      LOG_FORMAT: 'pretty',
      PORT: '0',
      HOST: '127.0.0.1',
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    try {
      await expectEventually(() => expect(output).toContain('[Main] listening'), { timeoutMs: 45_000 });
    } finally {
      child.kill('SIGTERM');
      await waitForExit(child);
    }
    expect(output).not.toContain('\u001b[');
    const lines = output.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): /);
    }
    expect(lines.some((l) => l.includes('[Main] listening {"url":"http://127.0.0.1:'))).toBe(true);
  });
});
