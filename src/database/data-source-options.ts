import { DataSourceOptions } from 'typeorm';
import { migrations } from './migrations';
import { installPgTypeParsers } from './pg-types';

export interface ConnectionSettings {
  url: string;
  poolSize: number;
  statementTimeoutSeconds?: number;
  connectTimeoutSeconds?: number;
  applicationName?: string;
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
      options: `-c TimeZone=UTC${statementTimeoutMs > 0 ? ` -c statement_timeout=${statementTimeoutMs}` : ''}`,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    },
  };
}
