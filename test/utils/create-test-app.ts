import { Logger, ModuleMetadata } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { createLogger } from '../../src/common/logging/json-logger';
import { AppConfig } from '../../src/config/app-config';
import { Env } from '../../src/config/setting';
import { createTestDatabase } from './test-database';

export interface TestAppOptions {
  /** Settings for this app, on top of the test defaults (LOG_LEVEL=error, PORT=0). */
  env?: Env;
  /** Override providers (ports), e.g. `(b) => b.overrideProvider(Clock).useValue(clock)`. */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** Reuse a database (e.g. a second replica on the same one); default: a fresh clone of the template. */
  databaseUrl?: string;
  /** Extra modules to load beside AppModule (e.g. a test-only service). */
  imports?: ModuleMetadata['imports'];
  /** Start listening on 127.0.0.1 on a free port (default true). */
  listen?: boolean;
}

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  databaseUrl: string;
  /** `http://127.0.0.1:<port>` (no `/api`), when listening. */
  baseUrl: string;
  /** `ws://127.0.0.1:<port>`, when listening. */
  wsUrl: string;
  dataSource: DataSource;
  close(): Promise<void>;
}

export const TEST_ENV: Env = {
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'fatal',
  PORT: '0',
  HOST: '127.0.0.1',
  DATABASE_MIGRATE_ON_START: 'false',
};

/** Boots the real `AppModule` (as `main.ts` does) against a real PostgreSQL database. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const config = AppConfig.fromEnv({ ...TEST_ENV, DATABASE_URL: databaseUrl, ...options.env });
  const logger = createLogger(config.server.logLevel, 'json');
  Logger.overrideLogger(logger);
  let builder = Test.createTestingModule({
    imports: [AppModule.forRoot({ config, databaseUrl }), ...(options.imports ?? [])],
  });
  if (options.override) {
    builder = options.override(builder);
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger });
  configureApp(app, config);
  let baseUrl = '';
  if (options.listen ?? true) {
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address() as { port: number };
    baseUrl = `http://127.0.0.1:${address.port}`;
  } else {
    await app.init();
  }
  let closed = false;
  return {
    app,
    config,
    databaseUrl,
    baseUrl,
    wsUrl: baseUrl.replace(/^http/, 'ws'),
    dataSource: app.get(DataSource),
    close: async () => {
      if (closed) {
        return;
      }
      closed = true;
      await app.close();
    },
  };
}
