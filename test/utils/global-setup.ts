import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedDatabase } from '../../src/database/embedded-postgres';
import { canConnect, createMigratedDatabase, DEFAULT_ADMIN_URL, newRunId } from './test-database';

declare global {
  var __PTR_EMBEDDED__: EmbeddedDatabase | undefined;
}

export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  // TEST_DATABASE_EMBEDDED=1 forces the fallback (to check it on a machine that has a server).
  if (process.env.TEST_DATABASE_EMBEDDED === '1' || !(await canConnect(adminUrl))) {
    if (process.env.TEST_DATABASE_URL && process.env.TEST_DATABASE_EMBEDDED !== '1') {
      throw new Error(`TEST_DATABASE_URL is set but PostgreSQL does not answer there: ${adminUrl}`);
    }
    // No server reachable: fall back to an embedded PostgreSQL in a temporary directory.
    const dir = mkdtempSync(join(tmpdir(), 'ptr-test-pg-'));
    chmodSync(dir, 0o755); // PostgreSQL runs as the OS user `postgres`, which must traverse the path
    const embedded = new EmbeddedDatabase({ dataDir: join(dir, 'data'), port: 0, database: 'postgres' });
    adminUrl = await embedded.start();
    globalThis.__PTR_EMBEDDED__ = embedded;
  }
  const runId = newRunId();
  const template = `${runId}_tmpl`;
  await createMigratedDatabase(adminUrl, template);
  process.env.PTR_TEST_ADMIN_URL = adminUrl;
  process.env.PTR_TEST_RUN_ID = runId;
  process.env.PTR_TEST_TEMPLATE_DB = template;
}
