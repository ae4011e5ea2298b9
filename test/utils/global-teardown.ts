import { dropRunDatabases } from './test-database';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env.PTR_TEST_ADMIN_URL;
  const runId = process.env.PTR_TEST_RUN_ID;
  if (adminUrl && runId) {
    await dropRunDatabases(adminUrl, runId);
  }
  await globalThis.__PTR_EMBEDDED__?.stop();
}
