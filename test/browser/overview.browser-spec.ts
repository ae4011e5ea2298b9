import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { expectEventually } from '../utils/expect-eventually';
import { TcpProxy } from '../utils/tcp-proxy';
import { createTestDatabase } from '../utils/test-database';
import {
  createTaskRun,
  launchWithDashboard,
  openPage,
  screenshot,
  unique,
  type Dashboard,
} from './dashboard';

/** Budgets of issue 14: first view interactive within 1 s on localhost, its JavaScript ≤ 300 kB gzipped. */
const INTERACTIVE_BUDGET_MS = 1000;
const FIRST_VIEW_JS_BUDGET_BYTES = 300 * 1024;
/** Data on screen (server and database included): a generous bound for a shared, loaded 2-core machine. */
const FIRST_DATA_BOUND_MS = 3000;

describe('Dashboard: overview, budgets and database outage', () => {
  let browser: Browser;
  let d: Dashboard;
  let proxy: TcpProxy;

  beforeAll(async () => {
    const direct = await createTestDatabase();
    const proxied = await TcpProxy.forUrl(direct);
    proxy = proxied.proxy;
    [browser, d] = await launchWithDashboard({}, proxied.url);
  }, 120_000);

  afterAll(async () => {
    await proxy?.restore();
    await Promise.all([browser?.close(), d?.stop()]);
    await proxy?.cut();
  });

  it('should serve the page with cache headers: index.html no-cache, hashed assets immutable, deep links to the app', async () => {
    const index = await fetch(`${d.baseUrl}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const asset = /src="(\/assets\/index-[\w-]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${d.baseUrl}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const deep = await fetch(`${d.baseUrl}/task-runs/00000000-0000-0000-0000-000000000000?state=FAILED`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    // The API keeps its own answers: unknown API routes and missing assets are 404, never the page.
    expect((await fetch(`${d.baseUrl}/api/no-such-route`)).status).toBe(404);
    expect((await fetch(`${d.baseUrl}/assets/missing-0000.js`)).status).toBe(404);
  });

  it('should show counts by state, failures in the window, queues and readiness, and refresh live', async () => {
    const failedName = unique('failed');
    await createTaskRun(d, {
      name: failedName,
      state: { type: 'FAILED', message: 'boom in the browser test' },
    });
    await createTaskRun(d, { state: { type: 'COMPLETED' } });
    await createTaskRun(d, { state: { type: 'RUNNING' } });
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/`);
      await page.locator('[data-test=counts] [data-state=FAILED] .n').filter({ hasText: '1' }).waitFor();
      await expectEventually(async () => {
        expect(await page.locator('[data-test=counts] [data-state=COMPLETED] .n').textContent()).toBe('1');
        expect(await page.locator('[data-test=counts] [data-state=RUNNING] .n').textContent()).toBe('1');
      });
      await page.locator('[data-test=failures]', { hasText: failedName }).waitFor();
      await page.locator('[data-test=database]', { hasText: 'up' }).waitFor();
      await page.locator('[data-test=history] [data-test=chart] canvas').waitFor();
      // Live: a run created now shows up without a reload (the overview polls every 5 s).
      await createTaskRun(d, { state: { type: 'FAILED' } });
      await page
        .locator('[data-test=counts] [data-state=FAILED] .n')
        .filter({ hasText: '2' })
        .waitFor({ timeout: 15_000 });
      // The window is in the URL.
      await page.selectOption('[data-test=window]', '1h');
      await expectEventually(() => expect(new URL(page.url()).searchParams.get('window')).toBe('1h'));
      await screenshot(page, 'overview', { docs: true });
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it(`should be interactive within ${INTERACTIVE_BUDGET_MS} ms with ≤ 300 kB of gzipped JavaScript for the first view`, async () => {
    // Interactive: the app shell is mounted and answers input (the page's `dashboard:interactive` mark, from
    // navigation start). First data: the counts panel got its answer (`dashboard:first-data`); that one also
    // waits for the server and PostgreSQL, so on this shared machine it only gets a generous bound.
    const interactive: number[] = [];
    const firstData: number[] = [];
    let jsGzipBytes = 0;
    const jsFiles: string[] = [];
    for (let i = 0; i < 6; i++) {
      // A fresh context each time: nothing cached, as a first visit.
      const t = await openPage(browser);
      try {
        const scripts: Promise<void>[] = [];
        if (i === 0) {
          t.page.on('response', (res) => {
            if (res.request().resourceType() !== 'script') {
              return;
            }
            jsFiles.push(new URL(res.url()).pathname);
            scripts.push(res.body().then((body) => void (jsGzipBytes += gzipSync(body).length)));
          });
        }
        await t.page.goto(`${d.baseUrl}/`);
        await t.page.locator('[data-test=counts] .count .n').first().waitFor();
        await t.page.locator('[data-test=history] [data-test=chart] canvas').waitFor();
        const marks = await t.page.evaluate(() =>
          ['dashboard:interactive', 'dashboard:first-data'].map(
            (name) => performance.getEntriesByName(name)[0]?.startTime ?? NaN,
          ),
        );
        await Promise.all(scripts);
        if (i > 0) {
          // the first load warms the server's code paths
          interactive.push(Math.round(marks[0]));
          firstData.push(Math.round(marks[1]));
        }
        expect(t.errors()).toEqual([]);
      } finally {
        await t.close();
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    process.stdout.write(
      `\n[budget] first view: interactive ${interactive.join(' / ')} ms (median ${median(interactive)}); ` +
        `first data ${firstData.join(' / ')} ms (median ${median(firstData)}); ` +
        `JavaScript on first view: ${jsFiles.length} files, ${(jsGzipBytes / 1024).toFixed(1)} kB gzipped\n`,
    );
    expect(jsFiles.length).toBeGreaterThan(0);
    expect(jsGzipBytes).toBeLessThanOrEqual(FIRST_VIEW_JS_BUDGET_BYTES);
    expect(median(interactive)).toBeLessThanOrEqual(INTERACTIVE_BUDGET_MS);
    expect(median(firstData)).toBeLessThanOrEqual(FIRST_DATA_BOUND_MS);
  });

  it('should say clearly that the database is down while the API answers 503, and recover by itself', async () => {
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/task-runs`);
      await page.locator('[data-test=runs]').waitFor();
      await proxy.cut();
      await page.goto(`${d.baseUrl}/`);
      await page
        .locator('[data-error-kind=unavailable]', { hasText: 'Database unavailable (503)' })
        .first()
        .waitFor({ timeout: 30_000 });
      await page.locator('[data-test=database]', { hasText: 'down' }).waitFor({ timeout: 30_000 });
      await screenshot(page, 'database-down', { docs: true });
      await proxy.restore();
      await page.locator('[data-test=database]', { hasText: 'up' }).waitFor({ timeout: 60_000 });
      await expectEventually(async () => expect(await page.locator('[data-error-kind]').count()).toBe(0), {
        timeoutMs: 30_000,
      });
      // The only console errors are the browser's own notes on the 503 answers.
      expect(t.errors().filter((e) => !/status of 503/.test(e))).toEqual([]);
    } finally {
      await proxy.restore();
      await t.close();
    }
  });
});
