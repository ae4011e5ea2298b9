/**
 * Real server processes for scale-out tests: API replicas (`src/main.ts`) and the services process
 * (`src/cli.ts services start`), run from the TypeScript sources through @swc-node/register (no build), each
 * with its own settings, logging to a buffer the test can print when something goes wrong.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expectEventually } from './expect-eventually';

const ROOT = join(__dirname, '..', '..');

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` for an API replica. */
  baseUrl: string;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | string>;
  /** SIGKILL: a replica that dies without a graceful shutdown. */
  kill(): Promise<number | string>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function launch(name: string, args: string[], env: Record<string, string>, baseUrl = ''): ServerProcess {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const signal = (sig: NodeJS.Signals): Promise<number | string> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(sig);
    }
    return exited;
  };
  return {
    name,
    child,
    baseUrl,
    output: () => out,
    exited,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}

/**
 * An API replica (no services unless `env` says so) on a free port; resolves once `/api/ready` answers 200,
 * or with `until: 'live'` once `/api/health` does (e.g. to watch readiness while it catches up).
 */
export async function startApiReplica(
  name: string,
  env: Record<string, string>,
  { until = 'ready' }: { until?: 'ready' | 'live' } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const p = launch(
    name,
    ['src/main.ts'],
    { SERVER_RUN_SERVICES: 'false', ...env, PORT: String(port) },
    `http://127.0.0.1:${port}`,
  );
  await waitFor(p, async () => {
    const res = await fetch(`${p.baseUrl}/api/${until === 'ready' ? 'ready' : 'health'}`);
    if (res.status !== 200) {
      throw new Error(`${until === 'ready' ? 'ready' : 'health'} answered ${res.status}`);
    }
  });
  return p;
}

/** `services start`; resolves once it logs that the services run. */
export async function startServicesProcess(env: Record<string, string>): Promise<ServerProcess> {
  const p = launch('services', ['src/cli.ts', 'services', 'start'], { LOG_LEVEL: 'info', ...env });
  await waitFor(p, () => {
    if (!p.output().includes('services running without the HTTP API')) {
      throw new Error('not up yet');
    }
  });
  return p;
}

async function waitFor(p: ServerProcess, check: () => void | Promise<void>): Promise<void> {
  try {
    await expectEventually(
      async () => {
        if (p.child.exitCode !== null) {
          throw new Error(`${p.name} exited ${p.child.exitCode}`);
        }
        await check();
      },
      { timeoutMs: 45_000, intervalMs: 200 },
    );
  } catch (err) {
    await p.kill();
    throw new Error(`${p.name} did not come up: ${String(err)}\n${p.output()}`);
  }
}
