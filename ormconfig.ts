/**
 * The TypeORM DataSource for the migrations CLI (`npm run migration:run`, `migration:revert`,
 * `migration:show`, `migration:generate`). It works on the database `npm start` would use: DATABASE_URL (or
 * PREFECT_SERVER_DATABASE_CONNECTION_URL) when set, else the embedded PostgreSQL under DATABASE_EMBEDDED_DIR,
 * which it starts for the command and stops afterwards (or reuses while a server has it running). When that is
 * impossible it stops with one line saying why (docs/operating.md, "Migrations").
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createLogger } from './src/common/logging/json-logger';
import { loadConfig } from './src/config/load-env';
import { ConfigError } from './src/config/setting';
import { dataSourceOptions } from './src/database/data-source-options';
import { resolveCliDatabase } from './src/database/migration-cli-database';

function refuse(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

async function createDataSource(): Promise<DataSource> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      refuse(err.message);
    }
    throw err;
  }
  Logger.overrideLogger(createLogger(config.server.logLevel, config.server.logFormat));
  const database = await resolveCliDatabase(config).catch((err: unknown) =>
    refuse(`Cannot open the database for migrations: ${err instanceof Error ? err.message : String(err)}`),
  );
  process.stderr.write(`migrations: using ${database.description}\n`);
  const dataSource = new DataSource({
    ...dataSourceOptions({ url: database.url, poolSize: 2 }),
    entities: [`${__dirname}/src/**/*.entity.ts`],
  });
  const { embedded } = database;
  if (embedded) {
    // The CLI exits right after its command; an error before the DataSource opened skips destroy().
    process.on('exit', () => embedded.stopOnExit());
    // The CLI destroys the DataSource before it exits: stop the database we started right after.
    const destroy = dataSource.destroy.bind(dataSource);
    dataSource.destroy = async () => {
      try {
        await destroy();
      } finally {
        await embedded.stop();
      }
    };
  }
  return dataSource;
}

export default createDataSource();
