import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { runEntry, startServer, waitForExit } from '../utils/server-process';
import { adminQuery, createEmptyDatabase } from '../utils/test-database';

describe('the server process', () => {
  it('should exit non-zero with one line naming a bad setting', async () => {
    const child = runEntry('main', { PORT: 'abc' });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await waitForExit(child)).toBe(2);
    expect(stderr).toBe('Invalid configuration: PORT: expected an integer, got "abc"\n');
  });

  it('should migrate an empty database at start, answer /api/ready, and exit 0 on SIGTERM', async () => {
    const databaseUrl = await createEmptyDatabase();
    const server = await startServer({ DATABASE_URL: databaseUrl });
    try {
      const res = await request(server.baseUrl).get('/api/ready').expect(200);
      expect(res.body.database).toEqual({ ok: true });
      const { rows } = await adminQuery(databaseUrl, `SELECT count(*)::int AS n FROM migrations`);
      expect(rows[0].n).toBeGreaterThan(0);
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    expect(server.output()).toContain('"msg":"bye","code":0');
  });

  it('should not migrate when DATABASE_MIGRATE_ON_START=false', async () => {
    const databaseUrl = await createEmptyDatabase();
    const server = await startServer({ DATABASE_URL: databaseUrl, DATABASE_MIGRATE_ON_START: 'false' });
    try {
      const { rows } = await adminQuery(databaseUrl, `SELECT to_regclass('public.migrations') AS t`);
      expect(rows[0].t).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('should start on the embedded database from an empty data directory and keep its data across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptr-embedded-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as the OS user `postgres`, which must traverse the path
    const env = { DATABASE_EMBEDDED_DIR: join(dir, 'postgres') };
    try {
      const first = await startServer(env, 90_000);
      await request(first.baseUrl).get('/api/health').expect(200, 'true');
      const ready = await request(first.baseUrl).get('/api/ready').expect(200);
      expect(ready.body.database.ok).toBe(true);
      const port = /"port":(\d+)/.exec(first.output())![1];
      const url = `postgres://postgres:postgres@127.0.0.1:${port}/prefect`;
      await adminQuery(
        url,
        `INSERT INTO dead_letter (source, reason, payload) VALUES ('kept', 'restart test', '{}')`,
      );
      expect(await first.stop()).toBe(0);

      const second = await startServer(env, 90_000);
      try {
        const res = await request(second.baseUrl).get('/api/admin/dead_letters?source=kept').expect(200);
        expect(res.body).toHaveLength(1);
        expect(res.body[0]).toMatchObject({ source: 'kept', reason: 'restart test' });
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should refuse a second start on the embedded directory of a live server, and leave that server running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptr-embedded-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as the OS user `postgres`, which must traverse the path
    const dataDir = join(dir, 'postgres');
    const env = { DATABASE_EMBEDDED_DIR: dataDir };
    try {
      const first = await startServer(env, 90_000);
      try {
        const second = runEntry('main', { PORT: '0', HOST: '127.0.0.1', ...env });
        let output = '';
        second.stdout!.on('data', (c: Buffer) => (output += c.toString()));
        second.stderr!.on('data', (c: Buffer) => (output += c.toString()));
        let code: number | null;
        try {
          code = await waitForExit(second, 15_000);
        } finally {
          second.kill('SIGKILL');
        }
        expect(code).toBe(1);
        const fatal = output
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level: string; msg: string; error?: string })
          .filter((l) => l.level === 'fatal');
        expect(fatal).toHaveLength(1);
        expect(fatal[0].msg).toBe('failed to start');
        expect(fatal[0].error).toContain(dataDir);
        expect(fatal[0].error).toContain(`pid ${first.child.pid}`);
        expect(fatal[0].error).toMatch(/stop it/);
        expect(fatal[0].error).toContain('DATABASE_EMBEDDED_DIR');
        expect(fatal[0].error).toContain('DATABASE_URL');

        const ready = await request(first.baseUrl).get('/api/ready').expect(200);
        expect(ready.body.database).toEqual({ ok: true });
        await request(first.baseUrl)
          .post('/api/task_runs/')
          .send({ task_key: 'second-start', dynamic_key: '0' })
          .expect(201);
      } finally {
        expect(await first.stop()).toBe(0);
      }
      expect(existsSync(`${dataDir}.owner`)).toBe(false); // a clean stop releases the directory
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should recover from a previous run killed with SIGKILL (stale postmaster)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptr-embedded-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as the OS user `postgres`, which must traverse the path
    const env = { DATABASE_EMBEDDED_DIR: join(dir, 'postgres') };
    try {
      const first = await startServer(env, 90_000);
      expect(await first.stop('SIGKILL')).toBeNull();
      const second = await startServer(env, 90_000);
      try {
        await request(second.baseUrl).get('/api/ready').expect(200);
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
