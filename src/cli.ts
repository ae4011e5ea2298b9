import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { AppModule } from './app.module';
import { SERVICE_CATALOG } from './background/managed-service';
import { createServicesContext, installShutdown, resolveDatabase } from './bootstrap';
import { ApiAuthService } from './common/auth/api-auth.service';
import { createLogger } from './common/logging/json-logger';
import { MetricsService } from './common/metrics/metrics.service';
import { AppConfig } from './config/app-config';
import { loadConfig } from './config/load-env';
import { ConfigError } from './config/setting';
import { HealthService } from './health/health.service';
import { serveMetrics } from './metrics/metrics-server';

const USAGE = `usage: services <command>

commands:
  ls      list every service, its environment variable and whether it is enabled
  start   run the enabled services only (no HTTP API), until SIGTERM/SIGINT
`;

/** `services ls`: needs no database, only the settings. */
function listServices(config: AppConfig): string {
  void AppModule; // importing the app module loads every @BackgroundService class into the catalog
  const rows = [...SERVICE_CATALOG]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => [
      s.name,
      s.envVar,
      config.isServiceEnabled(s.envVar) ? 'enabled' : 'disabled',
      s.description,
    ]);
  const header = ['SERVICE', 'SETTING', 'STATUS', 'DESCRIPTION'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return (
    [header, ...rows]
      .map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell)).join('  '))
      .join('\n') + '\n'
  );
}

/**
 * Why `services start` cannot do its job with this configuration, if it cannot: the in-memory broker keeps
 * events inside one process, so a separate services process would never receive the API's events.
 */
function servicesStartRefusal(config: AppConfig): string | undefined {
  if (config.events.messagingBroker !== 'memory') {
    return undefined;
  }
  return (
    'services start: PREFECT_SERVER_EVENTS_MESSAGING_BROKER=memory keeps events inside one process, so a ' +
    "separate services process would never receive the API's events; use a shared broker (postgres, the default, or redis), or run the " +
    'services inside the API process (SERVER_RUN_SERVICES=true)'
  );
}

async function startServices(config: AppConfig): Promise<void> {
  const refusal = servicesStartRefusal(config);
  if (refusal) {
    process.stderr.write(`${refusal}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.server.logLevel, config.server.logFormat);
  Logger.overrideLogger(logger);
  const database = await resolveDatabase(config);
  try {
    const app = await createServicesContext(config, database.url, logger);
    installShutdown(app, database, config.server.shutdownTimeout);
    await app.init();
    if (config.server.servicesMetricsPort) {
      const health = app.get(HealthService);
      const { port } = await serveMetrics(
        app.get(MetricsService),
        app.get(ApiAuthService),
        { host: config.server.host, port: config.server.servicesMetricsPort },
        () => health.readiness(),
      );
      new Logger('Services').log({
        msg: 'metrics served',
        url: `http://${config.server.host}:${port}/metrics`,
        ready: `http://${config.server.host}:${port}/ready`,
      });
    }
    new Logger('Services').log({ msg: 'services running without the HTTP API' });
  } catch (err) {
    new Logger('Services').fatal({
      msg: 'failed to start',
      error: err instanceof Error ? err.message : String(err),
    });
    await database.embedded?.stop().catch(() => undefined);
    process.exit(1);
  }
}

async function main(argv: string[]): Promise<void> {
  const args = argv[0] === 'services' ? argv.slice(1) : argv;
  const command = args[0];
  if (command !== 'ls' && command !== 'start') {
    process.stderr.write(USAGE);
    process.exit(command === undefined || command === '--help' || command === '-h' ? 0 : 2);
  }
  let config: AppConfig;
  try {
    // `services start` always runs services, whatever SERVER_RUN_SERVICES says for API processes.
    config = loadConfig(command === 'start' ? { SERVER_RUN_SERVICES: 'true' } : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (command === 'ls') {
    process.stdout.write(listServices(config));
  } else {
    await startServices(config);
  }
}

void main(process.argv.slice(2));
