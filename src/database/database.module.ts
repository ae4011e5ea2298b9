import { DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
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
            }),
            autoLoadEntities: true,
            retryAttempts: 3,
            retryDelay: 2000,
          }),
          dataSourceFactory: async (typeormOptions) => {
            const dataSource = await new DataSource(typeormOptions!).initialize();
            if (options.migrateOnStart) {
              const applied = await dataSource.runMigrations({ transaction: 'each' });
              if (applied.length)
                logger.log({ msg: 'migrations applied', names: applied.map((m) => m.name) });
            }
            return dataSource;
          },
        }),
      ],
    };
  }
}
