/**
 * Server-side cost of the task-run count triggers (migration 1764300015000-TaskRunCountDeltas; docs/performance.md,
 * "Queries, second round") per write statement: EXPLAIN ANALYZE execution time (which includes the transition
 * tables and the AFTER triggers) of a create-group INSERT, a single INSERT, a set_state-group UPDATE, a rename and a
 * DELETE, in alternating blocks of 25 with the count triggers disabled and enabled; medians of N (default 200).
 *
 *   flock /tmp/bench.lock node -r @swc-node/register bench/count-triggers.bench.ts [N]
 */
import { Client } from 'pg';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL, newRunId } from '../test/utils/test-database';
interface Plan {
  'Execution Time': number;
  Triggers?: { 'Trigger Name': string; Time: number }[];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function main() {
  const name = `${newRunId()}_bench_count_triggers`;
  const n = Number(process.argv[2] ?? 200);
  await adminQuery(DEFAULT_ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  const url = await createMigratedDatabase(DEFAULT_ADMIN_URL, name);
  const c = new Client({ connectionString: url });
  await c.connect();
  let seq = 0;
  await c.query(`INSERT INTO task_run (name, task_key, dynamic_key, state_type, state_name, tags)
                 SELECT 'n' || g, 'k', 'pre-' || g, 'PENDING', 'Pending', '["a"]' FROM generate_series(1, 20000) g`);
  await c.query('VACUUM ANALYZE task_run');
  const ids = (await c.query<{ id: string }>(`SELECT id FROM task_run ORDER BY id LIMIT 19000`)).rows.map(
    (r) => r.id,
  );
  const explain = async (sql: string, params: unknown[]): Promise<Plan> =>
    (await c.query<{ 'QUERY PLAN': Plan[] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params)).rows[0][
      'QUERY PLAN'
    ][0];
  const stmts: Record<string, () => [string, unknown[]]> = {
    'INSERT of 16 runs (a create group)': () => [
      `INSERT INTO task_run (name, task_key, dynamic_key, state_type, state_name, tags)
       SELECT 'n' || g, 'k', $1::text || '-' || g, (ARRAY['PENDING','SCHEDULED']::state_type[])[1 + g % 2], 'Pending', '["a"]'
         FROM generate_series(1, 16) g`,
      [String(seq++)],
    ],
    'INSERT of 1 run': () => [
      `INSERT INTO task_run (name, task_key, dynamic_key, state_type, state_name) VALUES ('n', 'k', $1, 'PENDING', 'Pending')`,
      [String(seq++)],
    ],
    'UPDATE of 16 runs, state changes (a set_state group)': () => {
      const i = (seq++ % 1000) * 16;
      return [
        `UPDATE task_run SET state_type = CASE state_type WHEN 'PENDING' THEN 'RUNNING'::state_type ELSE 'PENDING' END,
                updated = now() WHERE id = ANY($1::uuid[])`,
        [ids.slice(i, i + 16)],
      ];
    },
    'UPDATE of 1 run, no state change (rename)': () => [
      `UPDATE task_run SET name = 'x' || $2 WHERE id = $1`,
      [ids[seq % 16000], String(seq++)],
    ],
    'DELETE of 1 run': () => [`DELETE FROM task_run WHERE id = $1`, [ids[18999 - (seq++ % 2000)]]],
  };
  const setTriggers = async (on: boolean) => {
    for (const t of ['insert', 'update', 'delete']) {
      await c.query(`ALTER TABLE task_run ${on ? 'ENABLE' : 'DISABLE'} TRIGGER task_run_count_${t}`);
    }
  };
  for (const [k, f] of Object.entries(stmts)) {
    const total: number[] = [];
    const trig: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 25 === 0) {
        // alternate blocks: 25 statements without the triggers, then 25 with
        await setTriggers(false);
        for (let j = 0; j < 25; j++) {
          const [sql, params] = f();
          off.push((await explain(sql, params))['Execution Time']);
        }
        await setTriggers(true);
      }
      const [sql, params] = f();
      const plan = await explain(sql, params);
      total.push(plan['Execution Time']);
      trig.push(
        (plan.Triggers ?? [])
          .filter((t) => t['Trigger Name'].startsWith('task_run_count_'))
          .reduce((sum, t) => sum + t.Time, 0),
      );
    }
    const t = median(trig),
      e = median(total),
      o = median(off);
    process.stdout.write(
      `${k}: execution ${e.toFixed(3)} ms with the triggers (trigger functions ${t.toFixed(3)} ms), ${o.toFixed(3)} ms without: +${(e - o).toFixed(3)} ms (${(((e - o) / o) * 100).toFixed(1)}%), n=${n} each\n`,
    );
  }
  const [{ rows }] = (
    await c.query<{ rows: number }>(`SELECT count(*)::int AS rows FROM task_run_count_delta`)
  ).rows;
  process.stdout.write(`delta rows written (unfolded): ${rows}\n`);
  await c.end();
  await adminQuery(DEFAULT_ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}
main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
