/**
 * Test databases on a real PostgreSQL. `globalSetup` picks the server (TEST_DATABASE_URL, else the local one
 * at 127.0.0.1:5432, else an embedded PostgreSQL), creates a template database for this run and migrates it.
 * Each test file then clones its own database from the template (`CREATE DATABASE … TEMPLATE`, tens of ms),
 * so test files run in parallel without seeing each other's rows. `globalTeardown` drops them all.
 */
import { randomBytes } from 'node:crypto';
import { Client, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabaseRun {
  adminUrl: string;
  runId: string;
  template: string;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function adminQuery<T extends QueryResultRow = Record<string, unknown>>(
  adminUrl: string,
  sql: string,
  params: unknown[] = [],
): Promise<{ rows: T[] }> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await client.query<T>(sql, params);
  } finally {
    await client.end();
  }
}

export function newRunId(): string {
  return `ptr_t_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Creates an empty database and applies every migration. */
export async function createMigratedDatabase(adminUrl: string, name: string): Promise<string> {
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  const url = withDatabase(adminUrl, name);
  const ds = await new DataSource(dataSourceOptions({ url, poolSize: 1 })).initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
  return url;
}

/** The run set up by global-setup.ts (read from the environment it exported to the workers). */
export function currentRun(): TestDatabaseRun {
  const adminUrl = process.env.PTR_TEST_ADMIN_URL;
  const runId = process.env.PTR_TEST_RUN_ID;
  const template = process.env.PTR_TEST_TEMPLATE_DB;
  if (!adminUrl || !runId || !template) {
    throw new Error('test database run not set up: run e2e tests through jest (globalSetup)');
  }
  return { adminUrl, runId, template };
}

let counter = 0;

/** Unique within the run: module registries (and so `counter`) are per test file, hence the random part. */
function uniqueSuffix(): string {
  return `${process.env.JEST_WORKER_ID ?? '0'}_${++counter}_${randomBytes(4).toString('hex')}`;
}

/** A fresh, migrated database for one test file (or one test), cloned from the run's template. */
export async function createTestDatabase(): Promise<string> {
  const { adminUrl, runId, template } = currentRun();
  const name = `${runId}_${uniqueSuffix()}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(adminUrl, `CREATE DATABASE "${name}" TEMPLATE "${template}"`);
      return withDatabase(adminUrl, name);
    } catch (err) {
      // Two clones of one template at the same instant: "source database … is being accessed by other users".
      if (attempt < 50 && /being accessed by other users/.test(String(err))) {
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
        continue;
      }
      throw err;
    }
  }
}

/** A fresh empty database (no migrations), e.g. for migration tests. */
export async function createEmptyDatabase(): Promise<string> {
  const { adminUrl, runId } = currentRun();
  const name = `${runId}_${uniqueSuffix()}_empty`;
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  return withDatabase(adminUrl, name);
}

export async function dropRunDatabases(adminUrl: string, runId: string): Promise<void> {
  const { rows } = await adminQuery(adminUrl, `SELECT datname FROM pg_database WHERE datname LIKE $1`, [
    `${runId}%`,
  ]);
  for (const { datname } of rows as { datname: string }[]) {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
}
