import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppConfig } from './app-config';
import { parseDurationSeconds } from './duration';
import { renderEnvExample } from './env-example';
import { ConfigError } from './setting';

describe(AppConfig.name, () => {
  it('should apply Prefect defaults with an empty environment', () => {
    const sut = AppConfig.fromEnv({});
    expect(sut.server.port).toBe(4200);
    expect(sut.server.host).toBe('127.0.0.1');
    expect(sut.server.logLevel).toBe('info');
    expect(sut.database.url).toBeUndefined();
    expect(sut.api.defaultLimit).toBe(200);
    expect(sut.eventPersister).toMatchObject({
      enabled: true,
      batchSize: 20,
      flushInterval: 5,
      queueMaxSize: 50000,
    });
    expect(sut.events.retentionPeriod).toBe(7 * 86400);
    expect(sut.events.messagingBroker).toBe('postgres');
    expect(sut.tasks).toMatchObject({ maxScheduledQueueSize: 1000, maxRetryQueueSize: 100 });
  });

  it('should read values and aliases', () => {
    const sut = AppConfig.fromEnv({
      PORT: '8080',
      PREFECT_API_DEFAULT_LIMIT: '50',
      PREFECT_SERVER_EVENTS_RETENTION_PERIOD: 'P2D',
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.5',
      PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
    });
    expect(sut.server.port).toBe(8080);
    expect(sut.api.defaultLimit).toBe(50);
    expect(sut.events.retentionPeriod).toBe(2 * 86400);
    expect(sut.eventPersister.flushInterval).toBe(0.5);
    expect(sut.events.messagingBroker).toBe('redis');
  });

  it.each([
    ['PORT', 'abc', 'Invalid configuration: PORT: expected an integer, got "abc"'],
    ['PORT', '70000', 'Invalid configuration: PORT: must be <= 65535, got 70000'],
    [
      'DATABASE_URL',
      'mysql://x',
      'Invalid configuration: DATABASE_URL: expected a postgres: or postgresql: URL',
    ],
    [
      'LOG_LEVEL',
      'loud',
      'Invalid configuration: LOG_LEVEL: expected one of fatal, error, warn, info, debug, verbose, got "loud"',
    ],
    [
      'PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED',
      'maybe',
      'Invalid configuration: PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: expected true or false, got "maybe"',
    ],
    [
      'PREFECT_SERVER_EVENTS_RETENTION_PERIOD',
      'soon',
      'Invalid configuration: PREFECT_SERVER_EVENTS_RETENTION_PERIOD: expected seconds or an ISO-8601 duration (e.g. PT5S), got "soon"',
    ],
  ])('should reject %s=%s with one line naming the variable', (name, value, message) => {
    expect(() => AppConfig.fromEnv({ [name]: value })).toThrow(
      new ConfigError(name, message.split(': ').slice(2).join(': ')),
    );
    try {
      AppConfig.fromEnv({ [name]: value });
    } catch (err) {
      expect((err as Error).message).toBe(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  describe("Prefect's database and API names", () => {
    it.each([
      ['postgresql+asyncpg://u:p@db:5432/prefect', 'postgresql://u:p@db:5432/prefect'],
      ['postgresql+psycopg://u@db/prefect', 'postgresql://u@db/prefect'],
      ['postgres+asyncpg://u@db/prefect', 'postgresql://u@db/prefect'],
      ['postgresql+asyncpg://u@db/prefect?ssl=require', 'postgresql://u@db/prefect?sslmode=require'],
      ['postgresql://u@db/prefect', 'postgresql://u@db/prefect'],
      ['postgres://u@db/prefect', 'postgres://u@db/prefect'],
    ])('should read PREFECT_SERVER_DATABASE_CONNECTION_URL=%s as %s', (raw, url) => {
      expect(AppConfig.fromEnv({ PREFECT_SERVER_DATABASE_CONNECTION_URL: raw }).database.url).toBe(url);
      expect(AppConfig.fromEnv({ DATABASE_URL: raw }).database.url).toBe(url);
    });

    it('should read the older PREFECT_API_DATABASE_CONNECTION_URL too, and let DATABASE_URL win', () => {
      const old = AppConfig.fromEnv({ PREFECT_API_DATABASE_CONNECTION_URL: 'postgresql+asyncpg://a@h/d' });
      expect(old.database.url).toBe('postgresql://a@h/d');
      const both = AppConfig.fromEnv({
        DATABASE_URL: 'postgres://mine@h/d',
        PREFECT_SERVER_DATABASE_CONNECTION_URL: 'postgresql+asyncpg://theirs@h/d',
      });
      expect(both.database.url).toBe('postgres://mine@h/d');
    });

    it("should refuse Prefect's SQLite default with one line naming the variable", () => {
      expect(() =>
        AppConfig.fromEnv({ PREFECT_SERVER_DATABASE_CONNECTION_URL: 'sqlite+aiosqlite:///prefect.db' }),
      ).toThrow(
        'Invalid configuration: PREFECT_SERVER_DATABASE_CONNECTION_URL: SQLite is not supported; use a PostgreSQL URL (postgresql://…)',
      );
    });

    it('should read PREFECT_SERVER_API_HOST and PREFECT_SERVER_API_PORT, HOST and PORT winning', () => {
      const sut = AppConfig.fromEnv({ PREFECT_SERVER_API_HOST: '0.0.0.0', PREFECT_SERVER_API_PORT: '4300' });
      expect(sut.server).toMatchObject({ host: '0.0.0.0', port: 4300 });
      const both = AppConfig.fromEnv({
        HOST: '::1',
        PORT: '1',
        PREFECT_SERVER_API_HOST: 'x',
        PREFECT_SERVER_API_PORT: '2',
      });
      expect(both.server).toMatchObject({ host: '::1', port: 1 });
      expect(() => AppConfig.fromEnv({ PREFECT_SERVER_API_PORT: 'abc' })).toThrow(
        'Invalid configuration: PREFECT_SERVER_API_PORT: expected an integer, got "abc"',
      );
    });
  });

  it('should tell whether a service is enabled by its _ENABLED variable', () => {
    const sut = AppConfig.fromEnv({
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: 'false',
      MY_EXT_SERVICE_ENABLED: 'no',
    });
    expect(sut.isServiceEnabled('PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED')).toBe(false);
    expect(sut.isServiceEnabled('PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED')).toBe(true);
    expect(sut.isServiceEnabled('MY_EXT_SERVICE_ENABLED')).toBe(false);
    expect(sut.isServiceEnabled('UNDECLARED_SERVICE_ENABLED')).toBe(true);
  });

  it('should keep .env.example in step with the settings schema (run `npm run env:example`)', () => {
    const onDisk = readFileSync(resolve(__dirname, '..', '..', '.env.example'), 'utf8');
    expect(onDisk).toBe(renderEnvExample());
    for (const spec of AppConfig.allSettings()) {
      expect(onDisk).toContain(`# ${spec.env}=`);
    }
  });
});

describe(parseDurationSeconds.name, () => {
  it.each([
    ['5', 5],
    ['0.5', 0.5],
    ['PT5S', 5],
    ['PT1.5S', 1.5],
    ['P7D', 604800],
    ['P1DT2H3M4S', 93784],
    ['pt15m', 900],
  ])('should parse %s as %d seconds', (input, seconds) => {
    expect(parseDurationSeconds(input)).toBe(seconds);
  });

  it.each(['', 'P', 'PT', '5s', '-1', 'P1X'])('should reject %j', (input) => {
    expect(() => parseDurationSeconds(input)).toThrow();
  });
});
