import { DataSourceOptions } from 'typeorm';
import { DeadlineClient } from './deadline-client';
import { migrations } from './migrations';
import { installPgTypeParsers } from './pg-types';

export interface ConnectionSettings {
  url: string;
  poolSize: number;
  statementTimeoutSeconds?: number;
  connectTimeoutSeconds?: number;
  /** Client-side deadline of every query (seconds; 0 or unset: none, e.g. for migrations). */
  queryTimeoutSeconds?: number;
  applicationName?: string;
}

/**
 * The deadlines every `pg` pool of the app uses (TypeORM's, the task queue's): acquiring a connection
 * (from the pool or a new one) within `connectTimeout`, every query within `queryTimeout` on the client side
 * (a frozen or partitioned server cannot enforce `statement_timeout`), and TCP keepalive so a dead peer is
 * noticed on idle connections. Spread into `new Pool({...})`. See docs/operating.md ("Limits and timeouts").
 */
export function poolDeadlines(settings: { connectTimeoutSeconds?: number; queryTimeoutSeconds?: number }): {
  Client: typeof DeadlineClient;
  connectionTimeoutMillis: number;
  query_timeout: number;
  keepAlive: boolean;
  keepAliveInitialDelayMillis: number;
} {
  return {
    Client: DeadlineClient,
    connectionTimeoutMillis: Math.round((settings.connectTimeoutSeconds ?? 10) * 1000),
    query_timeout: Math.round((settings.queryTimeoutSeconds ?? 0) * 1000),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/**
 * The options every DataSource of this project uses (app, tests, migrations CLI): PostgreSQL, never
 * `synchronize`, sessions in UTC, our µs-preserving type parsers.
 */
export function dataSourceOptions(settings: ConnectionSettings): DataSourceOptions {
  installPgTypeParsers();
  const statementTimeoutMs = Math.round((settings.statementTimeoutSeconds ?? 0) * 1000);
  return {
    type: 'postgres',
    url: settings.url,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    migrations,
    poolSize: settings.poolSize,
    applicationName: settings.applicationName ?? 'prefect-task-runs-server',
    connectTimeoutMS: Math.round((settings.connectTimeoutSeconds ?? 10) * 1000),
    extra: {
      ...poolDeadlines(settings),
      options: `-c TimeZone=UTC${statementTimeoutMs > 0 ? ` -c statement_timeout=${statementTimeoutMs}` : ''}`,
      idleTimeoutMillis: 30_000,
    },
  };
}
