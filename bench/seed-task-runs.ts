/**
 * Seeds `rows` task runs (and the flow and 1000 flow runs they point at) the way the query benches need them: a mix
 * of states, tags, flow runs and times, bulk-loaded with the secondary indexes dropped and rebuilt once (much faster
 * than maintaining ~20 indexes per row), then VACUUM ANALYZE (the visibility map for index-only scans). Used by
 * bench/task-runs.bench.ts and bench/dashboard.bench.ts; `progress` hears each step.
 */
import type { Pool } from 'pg';

const CHUNK = 100_000;

export async function seedTaskRuns(
  pool: Pool,
  rows: number,
  progress: (step: string) => void,
): Promise<void> {
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)} s`;
  await pool.query(
    `INSERT INTO flow (id, name) VALUES ('00000000-0000-4000-8000-00000000f100', 'bench-flow')`,
  );
  await pool.query(
    `INSERT INTO flow_run (id, name, flow_id, state_type, state_name)
     SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'fr-' || g,
            '00000000-0000-4000-8000-00000000f100', 'RUNNING', 'Running'
       FROM generate_series(1, 1000) g`,
  );
  const client = await pool.connect();
  try {
    await client.query(`SET maintenance_work_mem = '256MB'`);
    const { rows: indexes } = await client.query<{ indexname: string; indexdef: string }>(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = 'task_run'
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
    );
    for (const { indexname } of indexes) {
      await client.query(`DROP INDEX "${indexname}"`);
    }
    for (let from = 1; from <= rows; from += CHUNK) {
      const to = Math.min(rows, from + CHUNK - 1);
      progress(`seeding rows ${from}..${to} of ${rows} (${elapsed()})`);
      await client.query(
        `INSERT INTO task_run (name, flow_run_id, task_key, dynamic_key, tags, labels, empirical_policy, state_type,
           state_name, state_timestamp, expected_start_time, start_time, end_time, total_run_time)
         SELECT 'seed-' || md5(g::text),
                CASE WHEN g % 4 = 0 THEN NULL ELSE ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % 1000), 12, '0'))::uuid END,
                'seed-task-' || (g % 50), g::text,
                CASE WHEN g % 3 = 0 THEN '["etl"]'::jsonb ELSE '[]'::jsonb END, '{}', '{}',
                (ARRAY['COMPLETED','FAILED','RUNNING','SCHEDULED','PENDING','COMPLETED','COMPLETED','CRASHED'])[1 + g % 8]::state_type,
                'Seed', now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
                CASE WHEN g % 8 IN (0, 1, 2, 5, 6, 7) THEN now() - (g || ' seconds')::interval + interval '1 second' END,
                CASE WHEN g % 8 IN (0, 1, 5, 6, 7) THEN now() - (g || ' seconds')::interval + interval '2 seconds' END,
                interval '1 second'
           FROM generate_series($1::int, $2::int) g`,
        [from, to],
      );
    }
    for (const { indexname, indexdef } of indexes) {
      progress(`building index ${indexname} (${elapsed()})`);
      await client.query(indexdef);
    }
  } finally {
    client.release();
  }
  progress(`VACUUM ANALYZE (${elapsed()})`);
  await pool.query('VACUUM ANALYZE');
}
