import { INestApplication, INestApplicationContext, Logger, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { AppConfig } from './config/app-config';
import { EmbeddedDatabase } from './database/embedded-postgres';

export interface ResolvedDatabase {
  url: string;
  /** Set when DATABASE_URL is unset and we started the embedded PostgreSQL. */
  embedded?: EmbeddedDatabase;
}

export async function resolveDatabase(config: AppConfig): Promise<ResolvedDatabase> {
  if (config.database.url) {
    return { url: config.database.url };
  }
  const embedded = new EmbeddedDatabase({
    dataDir: config.database.embeddedDir,
    port: config.database.embeddedPort,
    database: 'prefect',
  });
  const url = await embedded.start();
  return { url, embedded };
}

export async function createHttpApp(
  config: AppConfig,
  databaseUrl: string,
  logger: LoggerService | false,
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ config, databaseUrl }), {
    logger,
    bodyParser: false,
    abortOnError: false,
  });
  configureApp(app, config);
  return app;
}

export async function createServicesContext(
  config: AppConfig,
  databaseUrl: string,
  logger: LoggerService | false,
): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(AppModule.forRoot({ config, databaseUrl }), {
    logger,
    abortOnError: false,
  });
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: close the app (stop intake, services flush in
 * `beforeApplicationShutdown`, then the DataSource closes), stop the embedded database, exit 0. A second
 * signal or SHUTDOWN_TIMEOUT forces exit 1. Nest's `enableShutdownHooks()` is not used because it re-raises
 * the signal after closing, so the process would exit 143 instead of 0.
 */
export function installShutdown(
  app: INestApplication | INestApplicationContext,
  database: ResolvedDatabase,
  timeoutSeconds: number,
): void {
  const logger = new Logger('Shutdown');
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn({ msg: 'second signal: exiting now', signal });
      process.exit(1);
    }
    shuttingDown = true;
    logger.log({ msg: 'shutting down', signal });
    const force = setTimeout(() => {
      logger.error({ msg: 'shutdown timed out', seconds: timeoutSeconds });
      process.exit(1);
    }, timeoutSeconds * 1000);
    force.unref();
    void (async () => {
      let code = 0;
      try {
        await app.close();
      } catch (err) {
        code = 1;
        logger.error({ msg: 'error while closing', error: err instanceof Error ? err.stack : String(err) });
      }
      await database.embedded?.stop().catch(() => undefined);
      logger.log({ msg: 'bye', code });
      process.exit(code);
    })();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
