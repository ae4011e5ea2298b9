import { expectNothingAckedLostAfterKill } from '../utils/crash-load';
import { ServerProcess } from '../utils/processes';

/**
 * SIGKILL on a real server process with the default configuration (no broker setting: the PostgreSQL event
 * log), in the middle of a stream of task-run events, exactly while the persister (or the recorder) is
 * writing a batch. After a restart on the same database, every event acknowledged before the kill is
 * stored and every acknowledged task-run event is recorded, newest state winning. Counts are exact.
 */
describe('crash durability, default broker', () => {
  const processes: ServerProcess[] = [];
  const env = (databaseUrl: string): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
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

  it.each([
    ['the persister', '%INTO events%'],
    ['the recorder', '%INTO task_run%'],
  ])(
    'should keep every acknowledged event after SIGKILL during a write of %s',
    (_who, statement) =>
      expectNothingAckedLostAfterKill({ env, statement, processes, recoveryTimeoutMs: 30_000 }),
    120_000,
  );
});
