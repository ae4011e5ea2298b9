import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { migrations } from '../../src/database/migrations';
import { createEmptyDatabase } from '../utils/test-database';

async function tables(ds: DataSource): Promise<string[]> {
  const rows: { tablename: string }[] = await ds.query(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations' ORDER BY tablename`,
  );
  return rows.map((r) => r.tablename);
}

describe('migrations', () => {
  it('should apply every migration, revert them all, and apply them again', async () => {
    const ds = await new DataSource(
      dataSourceOptions({ url: await createEmptyDatabase(), poolSize: 1 }),
    ).initialize();
    try {
      const applied = await ds.runMigrations({ transaction: 'each' });
      expect(applied).toHaveLength(migrations.length);
      const created = await tables(ds);
      expect(created).toEqual(
        expect.arrayContaining(['dead_letter', 'task_run', 'task_run_state', 'flow_run']),
      );

      for (let i = 0; i < migrations.length; i++) {
        await ds.undoLastMigration({ transaction: 'each' });
      }
      expect(await tables(ds)).toEqual([]);

      await ds.runMigrations({ transaction: 'each' });
      expect(await tables(ds)).toEqual(created);
      expect(await ds.showMigrations()).toBe(false);
    } finally {
      await ds.destroy();
    }
  });

  it('should keep microseconds of timestamptz through the driver', async () => {
    const ds = await new DataSource(
      dataSourceOptions({ url: await createEmptyDatabase(), poolSize: 1 }),
    ).initialize();
    try {
      const [row] = await ds.query(
        `SELECT $1::timestamptz AS ts, '1 day 00:00:01.000002'::interval AS iv, count(*) AS n FROM (VALUES (1)) v(x)`,
        ['2026-01-02T03:04:05.123456+02:00'],
      );
      expect(row).toEqual({ ts: '2026-01-02T01:04:05.123456Z', iv: 86401.000002, n: 1 });
    } finally {
      await ds.destroy();
    }
  });
});
