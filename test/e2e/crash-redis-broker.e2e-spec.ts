import { randomUUID } from 'node:crypto';
import { expectNothingAckedLostAfterKill } from '../utils/crash-load';
import { ServerProcess } from '../utils/processes';
import { dropRedisStream } from '../utils/redis-stream';

const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The same SIGKILL test with `PREFECT_SERVER_EVENTS_MESSAGING_BROKER=redis`: every event acknowledged before
 * the kill is stored and recorded after a restart, and the restarted process takes over what the dead one
 * left pending at once (liveness keys), not after the 30 s claim idle time: the check allows 20 s.
 */
describe('crash durability, redis broker', () => {
  const stream = `test:crash:${randomUUID()}`;
  afterAll(() => dropRedisStream(REDIS_URL, stream));
  const processes: ServerProcess[] = [];
  const env = (databaseUrl: string): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
    PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
    REDIS_URL,
    PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
    SERVER_RUN_SERVICES: 'true',
    DATABASE_MIGRATE_ON_START: 'false',
    // The factory's events occurred in January: retention must not delete them under the test's feet.
    PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.2',
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: '0.2',
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: '200',
  });

  afterEach(async () => {
    for (const p of processes.splice(0)) {
      await p.kill();
    }
  });

  it.each([['the persister', '%INTO events%']])(
    'should keep every acknowledged event after SIGKILL during a write of %s',
    (_who, statement) =>
      expectNothingAckedLostAfterKill({ env, statement, processes, recoveryTimeoutMs: 20_000 }),
    120_000,
  );
});
