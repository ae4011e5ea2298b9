/**
 * Idle resident set size of the server (issue 12's RSS goal; docs/performance.md), two ways:
 *  - `dist`: the built server as production runs it (`node dist/main.js`; run `npm run build` first);
 *  - `swc`: from the TypeScript sources through @swc-node/register, as the benches and e2e tests run it (the
 *    compiler and its source maps live in the process).
 *
 *   node -r @swc-node/register bench/server-rss.ts
 *
 * Each starts on a fresh migrated database, waits BENCH_IDLE_SECONDS (default 15) after "listening", then prints
 * its VmRSS and stops. The embedded PostgreSQL is not used (DATABASE_URL points at the local server).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL, newRunId } from '../test/utils/test-database';
import { processRssMb } from './process-stats';
import { goal } from './profile';

const ROOT = resolve(__dirname, '..');
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 15);

async function measure(label: string, args: string[], databaseUrl: string): Promise<number> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      DATABASE_MIGRATE_ON_START: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await new Promise<void>((resolveListening, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${label}: did not start:\n${out}`)), 60_000);
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        if (out.includes('"msg":"listening"')) {
          clearTimeout(timer);
          resolveListening();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`${label}: exited with ${code}:\n${out}`)));
    });
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const mb = processRssMb(child.pid!);
    if (mb === undefined) {
      throw new Error(`${label}: cannot read /proc/${child.pid}/status`);
    }
    process.stdout.write(`server_rss_idle_${label}: ${mb.toFixed(1)} MB\n`);
    return mb;
  } finally {
    child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const dbName = `${newRunId()}_bench_rss`;
  const databaseUrl = await createMigratedDatabase(adminUrl, dbName);
  process.stdout.write(`server-rss bench: idle ${IDLE_SECONDS} s, load average ${os.loadavg().join(' ')}\n`);
  try {
    const built = existsSync(resolve(ROOT, 'dist', 'main.js'))
      ? await measure('dist', [resolve(ROOT, 'dist', 'main.js')], databaseUrl)
      : null;
    if (built === null) {
      process.stdout.write('server_rss_idle_dist: skipped (no dist/main.js: run `npm run build`)\n');
    }
    await measure('swc', ['-r', '@swc-node/register', resolve(ROOT, 'src', 'main.ts')], databaseUrl);
    if (built !== null) {
      goal('server_rss_idle_mb (the built server)', built, '<=', 150);
    }
  } finally {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
