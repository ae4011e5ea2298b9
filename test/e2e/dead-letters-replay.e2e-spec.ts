import request from 'supertest';
import { DataSource } from 'typeorm';
import { DeadLettersService } from '../../src/background/dead-letters/dead-letters.service';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { DeadLetterReplayer } from '../../src/services/dead-letter-replayer/dead-letter-replayer.background';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { createTestDatabase } from '../utils/test-database';

/**
 * Replaying a dead letter in the scale-out shape: the replay handlers live in the process that runs the
 * services, while operators call an API replica. The replica records the request (202) and the services
 * process's DeadLetterReplayer carries it out.
 */
describe('dead-letter replay across processes', () => {
  let replica: TestApp;
  let services: TestApp;
  const replayed: unknown[] = [];

  beforeAll(async () => {
    services = await createTestApp({
      env: { PREFECT_SERVER_SERVICES_DEAD_LETTER_REPLAYER_LOOP_SECONDS: '0.05' },
    });
    replica = await createTestApp({
      databaseUrl: services.databaseUrl,
      env: { SERVER_RUN_SERVICES: 'false' },
    });
    const deadLetters = services.app.get(DeadLettersService);
    deadLetters.registerReplayHandler('replay-test', (payload) => {
      replayed.push(payload);
      return Promise.resolve();
    });
    deadLetters.registerReplayHandler('replay-fails', () => Promise.reject(new Error('still broken')));
  });

  afterAll(async () => {
    await replica?.close();
    await services?.close();
  });

  const letterId = async (source: string, payload: unknown): Promise<string> => {
    await services.app.get(DeadLettersService).record(source, 'could not store', [{ payload, attempts: 5 }]);
    const res = await request(replica.baseUrl).get(`/api/admin/dead_letters?source=${source}`).expect(200);
    return (res.body as { id: string; payload: unknown }[]).find(
      (l) => JSON.stringify(l.payload) === JSON.stringify(payload),
    )!.id;
  };

  it('should answer 202 on the replica and replay in the services process', async () => {
    const id = await letterId('replay-test', { n: 1 });
    const res = await request(replica.baseUrl).post(`/api/admin/dead_letters/${id}/replay`).expect(202);
    expect(res.body).toMatchObject({ id, replayed_at: null, replay_requested_at: expect.any(String) });
    await expectEventually(async () => {
      const letter = await request(replica.baseUrl).get(`/api/admin/dead_letters/${id}`).expect(200);
      expect(letter.body.replayed_at).toEqual(expect.any(String));
    });
    expect(replayed).toEqual([{ n: 1 }]);
    const listed = await request(replica.baseUrl)
      .get('/api/admin/dead_letters?source=replay-test')
      .expect(200);
    expect(listed.body).toEqual([]);
    await request(replica.baseUrl).post(`/api/admin/dead_letters/${id}/replay`).expect(409);
  });

  it('should replay at once (200) where the service runs', async () => {
    const id = await letterId('replay-test', { n: 2 });
    const res = await request(services.baseUrl).post(`/api/admin/dead_letters/${id}/replay`).expect(200);
    expect(res.body.replayed_at).toEqual(expect.any(String));
    expect(replayed).toContainEqual({ n: 2 });
  });

  it('should clear the request and say why when the replay fails', async () => {
    const id = await letterId('replay-fails', { n: 3 });
    await request(replica.baseUrl).post(`/api/admin/dead_letters/${id}/replay`).expect(202);
    await expectEventually(async () => {
      const letter = await request(replica.baseUrl).get(`/api/admin/dead_letters/${id}`).expect(200);
      expect(letter.body).toMatchObject({
        replayed_at: null,
        replay_requested_at: null,
        reason: 'replay failed: still broken; before: could not store',
      });
    });
  });

  it('should keep the request pending when no process handles the source', async () => {
    const id = await letterId('nobody-replays-this', { n: 4 });
    await request(replica.baseUrl).post(`/api/admin/dead_letters/${id}/replay`).expect(202);
    // Let the replayer run twice more: the request must still be pending.
    const replayer = services.app.get(DeadLetterReplayer);
    const seen = replayer.iterations;
    await expectEventually(() => expect(replayer.iterations).toBeGreaterThanOrEqual(seen + 2));
    const letter = await request(replica.baseUrl).get(`/api/admin/dead_letters/${id}`).expect(200);
    expect(letter.body).toMatchObject({ replayed_at: null, replay_requested_at: expect.any(String) });
  });
});

describe('migration DeadLetterReplayRequests1764300007000', () => {
  it('should be reversible', async () => {
    const ds = await new DataSource(
      dataSourceOptions({ url: await createTestDatabase(), poolSize: 1 }),
    ).initialize();
    try {
      const hasColumn = async (): Promise<boolean> =>
        (
          await ds.query(
            `SELECT 1 FROM information_schema.columns WHERE table_name = 'dead_letter' AND column_name = 'replay_requested_at'`,
          )
        ).length === 1;
      expect(await hasColumn()).toBe(true);
      // Undo down to this migration (later ones, merged from other branches, first).
      for (;;) {
        const executed: { name: string }[] = await ds.query(
          `SELECT name FROM migrations ORDER BY id DESC LIMIT 1`,
        );
        await ds.undoLastMigration({ transaction: 'each' });
        if (executed[0].name === 'DeadLetterReplayRequests1764300007000') {
          break;
        }
      }
      expect(await hasColumn()).toBe(false);
      await ds.runMigrations({ transaction: 'each' });
      expect(await hasColumn()).toBe(true);
    } finally {
      await ds.destroy();
    }
  });
});
