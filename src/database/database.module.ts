import { DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';

export interface DatabaseModuleOptions {
  /** The resolved URL: the configured DATABASE_URL or the embedded database's. */
  url: string;
  migrateOnStart: boolean;
}

/**
 * The TypeORM connection. Pending migrations run inside the DataSource factory, so nothing can touch the
 * database before its schema is current.
 */
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    const logger = new Logger('Database');
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            ...dataSourceOptions({
              url: options.url,
              poolSize: config.database.poolSize,
              statementTimeoutSeconds: config.database.statementTimeout,
              connectTimeoutSeconds: config.database.connectTimeout,
              queryTimeoutSeconds: config.database.queryTimeout,
            }),
            autoLoadEntities: true,
            retryAttempts: 3,
            retryDelay: 2000,
          }),
          dataSourceFactory: async (typeormOptions) => {
            if (options.migrateOnStart) {
              // Migrations may run long (an index on a big table): their own short-lived connection, without
              // the per-query deadline the app's pool has.
              const base = typeormOptions as DataSourceOptions;
              const extra = (base as { extra?: Record<string, unknown> }).extra;
              const migrator = await new DataSource({
                ...base,
                poolSize: 1,
                extra: { ...extra, query_timeout: 0 },
              } as DataSourceOptions).initialize();
              try {
                const applied = await migrator.runMigrations({ transaction: 'each' });
                if (applied.length) {
                  logger.log({ msg: 'migrations applied', names: applied.map((m) => m.name) });
                }
              } finally {
                await migrator.destroy();
              }
            }
            return new DataSource(typeormOptions!).initialize();
          },
        }),
      ],
    };
  }
}
