/**
 * Tag concurrency overhead on `POST /api/task_runs/{id}/set_state`: PENDING → RUNNING → COMPLETED for runs
 * without tags (baseline), with a tag under a roomy limit (every transition secures / releases a slot), and
 * with all runs competing for a limit of 4 (most RUNNING proposals WAIT on the locked limit row).
 * Medians of 3 repetitions; TAG_BENCH_RUNS scales the work (default 300 runs per repetition, concurrency 16).
 *
 *   node -r @swc-node/register bench/tag-concurrency.bench.ts
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TestApp } from '../test/utils/create-test-app';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL } from '../test/utils/test-database';

const RUNS = Number(process.env.TAG_BENCH_RUNS ?? 300);
const CONCURRENCY = 16;
const REPETITIONS = 3;

async function pool<T>(items: T[], worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        await worker(items[next++]);
      }
    }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function scenario(t: TestApp, tags: string[]): Promise<{ perSecond: number; waits: number }> {
  const api = () => request(t.baseUrl);
  const ids: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const res = await api()
      .post('/api/task_runs/')
      .send({ task_key: 'bench', dynamic_key: randomBytes(8).toString('hex'), tags });
    ids.push((res.body as { id: string }).id);
  }
  let transitions = 0;
  let waits = 0;
  const started = process.hrtime.bigint();
  await pool(ids, async (id) => {
    const running = await api()
      .post(`/api/task_runs/${id}/set_state`)
      .send({ state: { type: 'RUNNING' } });
    transitions++;
    if ((running.body as { status: string }).status !== 'ACCEPT') {
      waits++;
      return;
    }
    await api()
      .post(`/api/task_runs/${id}/set_state`)
      .send({ state: { type: 'COMPLETED' } });
    transitions++;
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: transitions / seconds, waits };
}

async function main(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const name = `ptr_bench_tag_${Date.now().toString(36)}`;
  const databaseUrl = await createMigratedDatabase(adminUrl, name);
  const t = await createTestApp({ databaseUrl, env: { DATABASE_POOL_SIZE: '20' } });
  try {
    await request(t.baseUrl)
      .post('/api/concurrency_limits/')
      .send({ tag: 'roomy', concurrency_limit: 100000 });
    await request(t.baseUrl).post('/api/concurrency_limits/').send({ tag: 'tight', concurrency_limit: 4 });
    const results: Record<string, number[]> = { baseline: [], roomy: [], tight: [] };
    let tightWaits = 0;
    for (let rep = 0; rep < REPETITIONS; rep++) {
      results.baseline.push((await scenario(t, [])).perSecond);
      results.roomy.push((await scenario(t, ['roomy'])).perSecond);
      const tight = await scenario(t, ['tight']);
      results.tight.push(tight.perSecond);
      tightWaits += tight.waits;
      // free the tight limit for the next repetition
      await request(t.baseUrl).post('/api/concurrency_limits/tag/tight/reset').send({});
    }
    const baseline = median(results.baseline);
    const roomy = median(results.roomy);
    const tight = median(results.tight);
    process.stdout.write(`set_state_untagged (baseline): ${baseline.toFixed(0)} transitions/s\n`);
    process.stdout.write(`set_state_tagged_roomy_limit: ${roomy.toFixed(0)} transitions/s\n`);
    process.stdout.write(`set_state_tagged_limit_4: ${tight.toFixed(0)} transitions/s\n`);
    process.stdout.write(`tagged_roomy_vs_baseline: ${(roomy / baseline).toFixed(2)} ratio\n`);
    process.stdout.write(`tagged_limit_4_vs_baseline: ${(tight / baseline).toFixed(2)} ratio\n`);
    process.stdout.write(`limit_4_wait_answers: ${tightWaits} of ${RUNS * REPETITIONS} RUNNING proposals\n`);
  } finally {
    await t.close();
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
