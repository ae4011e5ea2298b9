import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { createEmptyDatabase } from '../utils/test-database';

describe('CreateEvents migration', () => {
  it('should create events and event_resources with their indexes, and revert cleanly', async () => {
    const ds = await new DataSource(
      dataSourceOptions({ url: await createEmptyDatabase(), poolSize: 1 }),
    ).initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
      const tables = async () =>
        (
          await ds.query<{ tablename: string }[]>(
            `SELECT tablename FROM pg_tables WHERE tablename IN ('events', 'event_resources') ORDER BY tablename`,
          )
        ).map((r) => r.tablename);
      expect(await tables()).toEqual(['event_resources', 'events']);
      const indexes = (
        await ds.query<{ indexname: string }[]>(
          `SELECT indexname FROM pg_indexes WHERE tablename IN ('events', 'event_resources') ORDER BY 1`,
        )
      ).map((r) => r.indexname);
      expect(indexes).toEqual(
        expect.arrayContaining([
          'ix_events__related_resource_ids_gin',
          'ix_events__related_gin',
          'ix_events__occurred_id',
          'ix_events__event_id',
          'ix_events__event_resource_id_occurred',
          'ix_events__event_occurred_id',
          'ix_event_resources__resource_id_occurred',
          'ix_event_resources__occurred',
          'ix_event_resources__event_id',
        ]),
      );
      while ((await tables()).length) {
        await ds.undoLastMigration({ transaction: 'each' });
      }
      expect(await tables()).toEqual([]);
      await ds.runMigrations({ transaction: 'each' });
      expect(await tables()).toEqual(['event_resources', 'events']);
    } finally {
      await ds.destroy();
    }
  });
});
