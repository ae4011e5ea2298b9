/**
 * The TypeORM DataSource for the migrations CLI (`npm run migration:run`, `migration:revert`,
 * `migration:generate`). Uses DATABASE_URL; with it unset, the local server's `postgres` database.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/load-env';
import { dataSourceOptions } from './src/database/data-source-options';

const config = loadConfig();

export default new DataSource({
  ...dataSourceOptions({
    url: config.database.url ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    poolSize: 2,
  }),
  entities: [`${__dirname}/src/**/*.entity.ts`],
});
