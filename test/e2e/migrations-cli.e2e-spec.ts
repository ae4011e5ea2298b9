import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import request from 'supertest';
import { migrations } from '../../src/database/migrations';
import { startServer } from '../utils/server-process';
import { createEmptyDatabase } from '../utils/test-database';

const ROOT = resolve(__dirname, '../..');
const exec = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run migration:<command>` as a user runs it (the TypeORM CLI through ormconfig.ts), without npm. */
async function cli(command: string, env: Record<string, string>): Promise<Result> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        k !== 'DATABASE_URL' &&
        !k.startsWith('PREFECT_SERVER_DATABASE') &&
        !k.startsWith('PREFECT_API_DATABASE'),
    ),
  );
  const args = ['-r', '@swc-node/register', 'node_modules/typeorm/cli.js', '-d', 'ormconfig.ts', command];
  try {
    const { stdout, stderr } = await exec(process.execPath, args, { cwd: ROOT, env: { ...clean, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const names = migrations.map((m) => m.name);

describe('migrations CLI (ormconfig.ts)', () => {
  it('should migrate the database DATABASE_URL names', async () => {
    const url = await createEmptyDatabase();
    const run = await cli('migration:run', { DATABASE_URL: url });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('migrations: using DATABASE_URL');
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(names);
    } finally {
      await client.end();
    }
  });

  it('should accept the asyncpg form of PREFECT_SERVER_DATABASE_CONNECTION_URL', async () => {
    const url = await createEmptyDatabase();
    const show = await cli('migration:show', {
      PREFECT_SERVER_DATABASE_CONNECTION_URL: url.replace(/^postgres(ql)?:/, 'postgresql+asyncpg:'),
    });
    expect(show.stdout).toContain(`[ ] ${names[0]}`);
  });

  describe('with DATABASE_URL unset', () => {
    let dir: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'migrations-cli-'));
      chmodSync(dir, 0o755); // as root, PostgreSQL runs as the `postgres` user, which must enter it
    });

    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('should migrate the embedded database `npm start` would use, and stop it afterwards', async () => {
      const env = { DATABASE_EMBEDDED_DIR: join(dir, 'pg') };
      const run = await cli('migration:run', env);
      expect(run.stderr).toContain(`migrations: using the embedded database under ${join(dir, 'pg')}`);
      expect(run.code).toBe(0);
      expect(existsSync(join(dir, 'pg', 'postmaster.pid'))).toBe(false);
      expect(existsSync(join(dir, 'pg.owner'))).toBe(false);

      const show = await cli('migration:show', env);
      for (const name of names) {
        expect(show.stdout).toMatch(new RegExp(`\\[X\\] \\d+ ${name}`));
      }
      expect(existsSync(join(dir, 'pg', 'postmaster.pid'))).toBe(false);
    }, 120_000);

    it("should reuse the embedded database a running server has up, and leave that server's database running", async () => {
      const env = { DATABASE_EMBEDDED_DIR: join(dir, 'served') };
      const server = await startServer(env, 90_000);
      try {
        const show = await cli('migration:show', env);
        expect(show.code).toBe(0);
        expect(show.stderr).toMatch(
          /migrations: using the embedded database under .* \(already running on port \d+\)/,
        );
        expect(show.stdout).toMatch(new RegExp(`\\[X\\] \\d+ ${names[0]}`));
        await request(server.baseUrl).get('/api/ready').expect(200);
        expect(existsSync(join(dir, 'served.owner'))).toBe(true);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    }, 120_000);

    it('should refuse a bad setting with one line', async () => {
      const result = await cli('migration:show', {
        DATABASE_EMBEDDED_DIR: join(dir, 'pg'),
        DATABASE_POOL_SIZE: 'x',
      });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(
        'Invalid configuration: DATABASE_POOL_SIZE: expected an integer, got "x"',
      );
    });
  });
});
