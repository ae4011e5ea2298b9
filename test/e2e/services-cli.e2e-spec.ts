import { randomUUID } from 'node:crypto';
import { expectEventually } from '../utils/expect-eventually';
import { freePort } from '../utils/processes';
import { runEntry, waitForExit } from '../utils/server-process';
import { createTestDatabase } from '../utils/test-database';

function collect(child: ReturnType<typeof runEntry>): () => string {
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return () => out;
}

describe('the services CLI', () => {
  it('should list every service with its setting and whether it is enabled', async () => {
    const child = runEntry('cli', { PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: 'false' }, [
      'services',
      'ls',
    ]);
    const output = collect(child);
    expect(await waitForExit(child)).toBe(0);
    const lines = output().trim().split('\n');
    expect(lines[0]).toMatch(/^SERVICE\s+SETTING\s+STATUS\s+DESCRIPTION$/);
    const rows = Object.fromEntries(
      lines
        .slice(1)
        .map((l) => l.split(/\s{2,}/))
        .map(([name, env, status]) => [name, { env, status }]),
    );
    expect(rows).toMatchObject({
      EventPersister: { env: 'PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED', status: 'disabled' },
      TaskRunRecorder: { env: 'PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED', status: 'enabled' },
      EventRetention: { env: 'PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED', status: 'enabled' },
    });
  });

  it('should refuse a bad value with one line', async () => {
    const child = runEntry('cli', { PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'perhaps' }, [
      'services',
      'ls',
    ]);
    const output = collect(child);
    expect(await waitForExit(child)).toBe(2);
    expect(output()).toBe(
      'Invalid configuration: PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: expected true or false, got "perhaps"\n',
    );
  });

  it('should refuse to start with the in-memory broker, in one line', async () => {
    const child = runEntry('cli', { PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'memory' }, [
      'services',
      'start',
    ]);
    const output = collect(child);
    expect(await waitForExit(child)).toBe(2);
    expect(output()).toMatch(
      /^services start: PREFECT_SERVER_EVENTS_MESSAGING_BROKER=memory keeps events inside one process[^\n]*\n$/,
    );
  });

  it('should run only the enabled services, without the HTTP API, until SIGTERM, with /ready on its metrics port', async () => {
    const databaseUrl = await createTestDatabase();
    const metricsPort = await freePort();
    const child = runEntry(
      'cli',
      {
        DATABASE_URL: databaseUrl,
        PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
        SERVER_RUN_SERVICES: 'false',
        // A broker a separate process can share (memory is refused, see below), on a stream of its own.
        PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
        PREFECT_SERVER_EVENTS_REDIS_STREAM: `ptr-test:${randomUUID()}`,
        SERVICES_METRICS_PORT: String(metricsPort),
      },
      ['services', 'start'],
    );
    const output = collect(child);
    const started = await expectEventually(
      () => {
        expect({ exitCode: child.exitCode, output: output() }).toEqual({
          exitCode: null,
          output: expect.stringContaining('services running without the HTTP API'),
        });
        return output();
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(started).toMatch(/"context":"EventPersister".*"msg":"started"/);
    expect(started).toMatch(/"context":"TaskRunRecorder".*"msg":"started"/);
    expect(started).not.toMatch(/"context":"EventRetention".*"msg":"started"/);
    expect(started).not.toContain('"msg":"listening"');
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, database: { ok: true }, down: [] });
    child.kill('SIGTERM');
    expect(await waitForExit(child)).toBe(0);
    expect(output()).toMatch(/"context":"EventPersister".*"msg":"stopped"/);
  });
});
