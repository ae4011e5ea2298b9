import { resolve } from 'node:path';
import { AppConfig } from '../config/app-config';
import { EmbeddedDatabase, livePostmaster } from './embedded-postgres';

/** Where the migrations CLI connects, and what to stop afterwards. */
export interface CliDatabase {
  url: string;
  /** Set when the CLI started the embedded database itself (stop it when done). */
  embedded?: EmbeddedDatabase;
  /** One line for the operator: which database the command works on. */
  description: string;
}

/** The port of a PostgreSQL running on `dataDir` (its `postmaster.pid`), when the process is alive. */
export function runningPostmasterPort(dataDir: string): number | undefined {
  return livePostmaster(dataDir)?.port;
}

/**
 * The database `npm start` would use: DATABASE_URL (or its Prefect alias) when set, else the embedded
 * PostgreSQL under DATABASE_EMBEDDED_DIR: the running one when a server has it up (the CLI must not stop
 * it), otherwise started here for the command and stopped after it (docs/operating.md, "Migrations"). Starting
 * it claims the directory like a server does: while a server is still starting (its PostgreSQL not up yet),
 * the command stops with EmbeddedDatabaseInUseError instead.
 */
export async function resolveCliDatabase(config: AppConfig): Promise<CliDatabase> {
  if (config.database.url) {
    const url = new URL(config.database.url);
    return { url: config.database.url, description: `DATABASE_URL (${url.host}${url.pathname})` };
  }
  const dataDir = resolve(config.database.embeddedDir);
  const port = runningPostmasterPort(dataDir);
  if (port) {
    return {
      url: `postgres://postgres:postgres@127.0.0.1:${port}/prefect`,
      description: `the embedded database under ${dataDir} (already running on port ${port})`,
    };
  }
  const embedded = new EmbeddedDatabase({
    dataDir,
    port: config.database.embeddedPort,
    database: 'prefect',
  });
  const url = await embedded.start();
  return { url, embedded, description: `the embedded database under ${dataDir}` };
}
