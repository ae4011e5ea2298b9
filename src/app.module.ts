import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { BackgroundModule } from './background/background.module';
import { BindingsModule } from './bindings.module';
import { AuthModule } from './common/auth/auth.module';
import { CommonModule } from './common/common.module';
import { HttpExceptionFilter } from './common/errors/http-exception.filter';
import { createValidationPipe } from './common/validation/validation.pipe';
import { ConcurrencyLimitsModule } from './concurrency-limits/concurrency-limits.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { EventsModule } from './events/events.module';
import { FlowRunsModule } from './flow-runs/flow-runs.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { OrchestrationModule } from './orchestration/orchestration.module';
import { ServicesModule } from './services/services.module';
import { TaskQueuesModule } from './task-queues/task-queues.module';
import { TaskRunsModule } from './task-runs/task-runs.module';

export interface AppModuleOptions {
  config: AppConfig;
  /** The resolved database URL (DATABASE_URL, or the embedded database's). */
  databaseUrl: string;
}

/**
 * The table of contents: configuration, database, cross-cutting globals, the port bindings between folders, the
 * feature modules, and every background service (ServicesModule).
 */
@Module({})
export class AppModule {
  static forRoot({ config, databaseUrl }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CommonModule,
        AuthModule,
        DatabaseModule.forRoot({ url: databaseUrl, migrateOnStart: config.database.migrateOnStart }),
        BackgroundModule,
        BindingsModule,
        HealthModule,
        MetricsModule,
        OrchestrationModule,
        FlowRunsModule,
        TaskQueuesModule,
        TaskRunsModule,
        EventsModule,
        ConcurrencyLimitsModule,
        ServicesModule,
      ],
      providers: [
        {
          provide: APP_PIPE,
          inject: [AppConfig],
          useFactory: (c: AppConfig) => createValidationPipe({ maxObjectKeys: c.server.bodyMaxObjectKeys }),
        },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
      ],
    };
  }
}
