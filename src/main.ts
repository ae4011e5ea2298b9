import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createHttpApp, installShutdown, resolveDatabase, ResolvedDatabase } from './bootstrap';
import { createLogger } from './common/logging/json-logger';
import { AppConfig } from './config/app-config';
import { loadConfig } from './config/load-env';
import { ConfigError } from './config/setting';

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.server.logLevel, config.server.logFormat);
  Logger.overrideLogger(logger);
  let database: ResolvedDatabase | undefined;
  try {
    database = await resolveDatabase(config);
    const app = await createHttpApp(config, database.url, logger);
    installShutdown(app, database, config.server.shutdownTimeout);
    await app.listen(config.server.port, config.server.host);
    const url = (await app.getUrl()).replace('[::1]', 'localhost');
    new Logger('Main').log({
      msg: 'listening',
      url: `${url}/api`,
      dashboard: `${url}/`,
      docs: `${url}/api/docs`,
      embeddedDatabase: !!database.embedded,
    });
  } catch (err) {
    new Logger('Main').fatal({
      msg: 'failed to start',
      error: err instanceof Error ? err.message : String(err),
    });
    await database?.embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
