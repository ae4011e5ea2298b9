/**
 * Helpers for the dashboard's browser tests: a real server process on a fresh database, Debian's chromium
 * driven by playwright-core (no browser download), console-error capture, screenshots, and API calls.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type ServerProcess } from '../utils/server-process';
import { createTestDatabase } from '../utils/test-database';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = resolve(__dirname, '..', '..', '.data', 'screenshots');
export const DOCS_SCREENSHOTS = resolve(__dirname, '..', '..', 'docs', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 60_000,
  });
}

export interface Dashboard {
  server: ServerProcess;
  databaseUrl: string;
  baseUrl: string;
  /** JSON call to `/api<path>`; throws on an unexpected status. */
  api<T = unknown>(method: string, path: string, body?: unknown, expectStatus?: number[]): Promise<T>;
  stop(): Promise<void>;
}

export async function startDashboard(
  env: Record<string, string> = {},
  databaseUrl?: string,
): Promise<Dashboard> {
  const url = databaseUrl ?? (await createTestDatabase());
  const server = await startServer({ DATABASE_URL: url, ...env });
  const auth = env.PREFECT_SERVER_API_AUTH_STRING;
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (auth) {
    headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  }
  return {
    server,
    databaseUrl: url,
    baseUrl: server.baseUrl,
    async api<T>(method: string, path: string, body?: unknown, expectStatus?: number[]): Promise<T> {
      const res = await fetch(`${server.baseUrl}/api${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (expectStatus ? !expectStatus.includes(res.status) : !res.ok) {
        throw new Error(`${method} ${path} → ${res.status}: ${text}`);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async stop() {
      await server.stop();
    },
  };
}

/**
 * The browser and a dashboard server, started at the same time. When either fails to start, the other is
 * closed before the error is thrown: a suite whose `beforeAll` fails must not leave a server running (with
 * `Promise.all`, a missing chromium left the server up and jest never exited).
 */
export async function launchWithDashboard(
  env: Record<string, string> = {},
  databaseUrl?: string,
): Promise<[Browser, Dashboard]> {
  const [browser, dashboard] = await Promise.allSettled([launchBrowser(), startDashboard(env, databaseUrl)]);
  if (browser.status === 'fulfilled' && dashboard.status === 'fulfilled') {
    return [browser.value, dashboard.value];
  }
  await Promise.allSettled([
    browser.status === 'fulfilled' ? browser.value.close() : undefined,
    dashboard.status === 'fulfilled' ? dashboard.value.stop() : undefined,
  ]);
  throw browser.status === 'rejected' ? browser.reason : (dashboard as PromiseRejectedResult).reason;
}

/** A page that records console errors and uncaught exceptions; `errors()` lists them. */
export interface TrackedPage {
  page: Page;
  context: BrowserContext;
  errors(): string[];
  close(): Promise<void>;
}

export async function openPage(browser: Browser, width = 1400, height = 900): Promise<TrackedPage> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      errors.push(`console: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return { page, context, errors: () => [...errors], close: () => context.close() };
}

/** Saves a screenshot under .data/screenshots (and docs/screenshots with `docs: true`). */
export async function screenshot(page: Page, name: string, opts: { docs?: boolean } = {}): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`), fullPage: true });
  if (opts.docs && process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: resolve(DOCS_SCREENSHOTS, `${name}.png`), fullPage: false });
  }
}

let counter = 0;
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${++counter}`;
}

/** Creates a task run through the API. */
export async function createTaskRun(
  d: Dashboard,
  fields: {
    name?: string;
    task_key?: string;
    tags?: string[];
    flow_run_id?: string;
    state?: Record<string, unknown>;
  } = {},
): Promise<{ id: string; name: string }> {
  return d.api('POST', '/task_runs/', {
    task_key: fields.task_key ?? 'browser-test-task',
    dynamic_key: unique('dk'),
    name: fields.name ?? unique('run'),
    tags: fields.tags ?? [],
    flow_run_id: fields.flow_run_id,
    state: fields.state ?? { type: 'PENDING' },
  });
}
