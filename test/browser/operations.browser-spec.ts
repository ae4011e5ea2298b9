import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { expectEventually } from '../utils/expect-eventually';
import { TaskWorkerClient } from '../utils/task-worker-client';
import { adminQuery } from '../utils/test-database';
import { launchWithDashboard, openPage, screenshot, unique, type Dashboard } from './dashboard';

describe('Dashboard: background tasks, events, concurrency limits, dead letters', () => {
  let browser: Browser;
  let d: Dashboard;
  const workers: TaskWorkerClient[] = [];

  beforeAll(async () => {
    [browser, d] = await launchWithDashboard();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all([browser?.close(), d?.stop()]);
  });

  it('should show queue depth per task key, connected workers, and deliveries as they happen', async () => {
    const key = unique('bg-key');
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/background-tasks`);
      await page.getByText('No background task is queued or in flight.').waitFor();
      await page.getByText('No task worker is connected to any replica.').waitFor();
      for (let i = 0; i < 3; i++) {
        await d.api('POST', '/task_runs/', {
          task_key: key,
          dynamic_key: randomUUID(),
          state: { type: 'SCHEDULED', state_details: { deferred: true } },
        });
      }
      const row = page.locator(`[data-test=queues] tr[data-task-key="${key}"]`);
      await row.locator('[data-col=scheduled]', { hasText: '3' }).waitFor({ timeout: 15_000 });
      await page
        .locator('[data-test=activity]', { hasText: `${key}: 3 queued` })
        .waitFor({ timeout: 15_000 });

      // A worker connects and takes one run (it does not ack, so the delivery stays in flight).
      const worker = await TaskWorkerClient.subscribe(
        d.baseUrl.replace('http', 'ws'),
        [key],
        unique('worker'),
      );
      workers.push(worker);
      await worker.nextRun(15_000);
      await page.locator('[data-test=workers] td', { hasText: key }).waitFor({ timeout: 15_000 });
      // The worker's prefetch takes one or two runs: in flight, no longer scheduled.
      await row.locator('[data-col=in_flight]', { hasText: /^[12]$/ }).waitFor({ timeout: 15_000 });
      await row.locator('[data-col=scheduled]', { hasText: /^[12]$/ }).waitFor();
      await page
        .locator('[data-test=activity] li', { hasText: key })
        .filter({ hasText: /[12] delivered to workers/ })
        .waitFor({ timeout: 15_000 });
      await screenshot(page, 'background-tasks', { docs: true });
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('should stream events live with event-name and resource filters in the URL, and chart their counts', async () => {
    const tag = unique('ev');
    const post = (event: string, resourceId: string) =>
      d.api(
        'POST',
        '/events',
        [
          {
            id: randomUUID(),
            occurred: new Date().toISOString(),
            event,
            resource: { 'prefect.resource.id': resourceId, 'prefect.resource.name': `${resourceId}-name` },
            related: [],
            payload: { tag },
          },
        ],
        [204],
      );
    const stored = (name: string) =>
      expectEventually(async () => {
        const found = await d.api<{ events: unknown[] }>('POST', '/events/filter', {
          filter: { event: { name: [name] } },
        });
        expect(found.events).toHaveLength(1);
      });
    await post(`test.browser.${tag}.before`, `test.resource.${tag}.a`);
    // Stored before the page opens, so the stream's backfill (not its live part) must bring it.
    await stored(`test.browser.${tag}.before`);
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/events`);
      await page.locator('[data-socket=open]').waitFor();
      // Backfill: the event posted before the page opened.
      await page
        .locator(`[data-test=stream] tr[data-event="test.browser.${tag}.before"]`)
        .waitFor({ timeout: 15_000 });
      // Live: posted while the page is open.
      await post(`test.browser.${tag}.live`, `test.resource.${tag}.b`);
      await page
        .locator(`[data-test=stream] tr[data-event="test.browser.${tag}.live"]`)
        .waitFor({ timeout: 15_000 });
      // A new filter opens a new stream whose backfill reads stored events: wait for the persister's flush.
      await stored(`test.browser.${tag}.live`);

      // Filter on the event name: the URL carries it, and a non-matching event stays out.
      await page.fill('input[name=event]', `test.browser.${tag}.`);
      await page.fill('input[name=resource]', `test.resource.${tag}.b`);
      await page.click('[data-test=filters] button[type=submit]');
      await expectEventually(() => {
        const u = new URL(page.url());
        expect(u.searchParams.get('event')).toBe(`test.browser.${tag}.`);
        expect(u.searchParams.get('resource')).toBe(`test.resource.${tag}.b`);
      });
      await page.locator('[data-socket=open]').waitFor();
      await page
        .locator(`[data-test=stream] tr[data-event="test.browser.${tag}.live"]`)
        .waitFor({ timeout: 15_000 });
      await post(`other.${tag}`, `test.resource.${tag}.b`);
      await post(`test.browser.${tag}.after`, `test.resource.${tag}.b`);
      await page
        .locator(`[data-test=stream] tr[data-event="test.browser.${tag}.after"]`)
        .waitFor({ timeout: 15_000 });
      expect(await page.locator(`[data-test=stream] tr[data-event="other.${tag}"]`).count()).toBe(0);
      expect(
        await page.locator(`[data-test=stream] tr[data-event="test.browser.${tag}.before"]`).count(),
      ).toBe(0);
      // The counts come from the stored events (the persister flushes within a second or two).
      await page.reload();
      await page
        .locator('[data-test=count-by-event]', { hasText: `test.browser.${tag}.after` })
        .waitFor({ timeout: 20_000 });
      await page.locator('[data-test=count-chart] canvas').waitFor();
      await screenshot(page, 'events', { docs: true });
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('should create, edit, reset and delete v2 and v1 concurrency limits, showing slots in use', async () => {
    const name = unique('limit');
    const tag = unique('tag');
    // A v1 limit with one slot held by a run, created through the API.
    await d.api('POST', '/concurrency_limits/', { tag, concurrency_limit: 2 }, [200, 201]);
    const holder = randomUUID();
    await d.api('POST', '/concurrency_limits/increment', { names: [tag], task_run_id: holder });
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/concurrency-limits`);
      const v1Row = page.locator(`[data-test=v1] tr[data-tag="${tag}"]`);
      await v1Row.locator('[data-col=slots]', { hasText: '1 / 2' }).waitFor();

      // v2: create through the form.
      await page.fill('input[name=v2-name]', name);
      await page.fill('input[name=v2-limit]', '3');
      await page.click('[data-test=create-v2] button[type=submit]');
      const v2Row = page.locator(`[data-test=v2] tr[data-name="${name}"]`);
      await v2Row.locator('[data-col=slots]', { hasText: '0 / 3' }).waitFor();
      // Slots taken elsewhere show up (the page refreshes).
      await d.api('PATCH', `/v2/concurrency_limits/${name}`, { active_slots: 2 }, [204]);
      await v2Row.locator('[data-col=slots]', { hasText: '2 / 3' }).waitFor({ timeout: 15_000 });
      // Edit the limit.
      await v2Row.locator('button', { hasText: 'Edit' }).click();
      await page.fill('input[name=edit-v2-limit]', '5');
      await page.locator(`[data-test=v2] button`, { hasText: 'Save' }).click();
      await v2Row.locator('[data-col=slots]', { hasText: '2 / 5' }).waitFor();
      expect((await d.api<{ limit: number }>('GET', `/v2/concurrency_limits/${name}`)).limit).toBe(5);
      // Reset, confirmed.
      await v2Row.locator('button', { hasText: 'Reset' }).click();
      await page.click('[data-test=confirm]');
      await v2Row.locator('[data-col=slots]', { hasText: '0 / 5' }).waitFor();
      await screenshot(page, 'concurrency-limits', { docs: true });
      // Delete, confirmed.
      await v2Row.locator('button', { hasText: 'Delete' }).click();
      await page.click('[data-test=confirm]');
      await v2Row.waitFor({ state: 'detached' });
      await d.api('GET', `/v2/concurrency_limits/${name}`, undefined, [404]);

      // v1: edit, reset (the holder is released), delete.
      await v1Row.locator('button', { hasText: 'Edit' }).click();
      await page.fill('input[name=edit-v1-limit]', '4');
      await v1Row.locator('button', { hasText: 'Save' }).click();
      await v1Row.locator('[data-col=slots]', { hasText: '1 / 4' }).waitFor();
      await v1Row.locator('button', { hasText: 'Reset' }).click();
      await page.click('[data-test=confirm]');
      await v1Row.locator('[data-col=slots]', { hasText: '0 / 4' }).waitFor();
      await v1Row.locator('button', { hasText: 'Delete' }).click();
      await page.click('[data-test=confirm]');
      await v1Row.waitFor({ state: 'detached' });
      await d.api('GET', `/concurrency_limits/tag/${tag}`, undefined, [404]);
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('should list dead letters, show the payload and error, and replay one', async () => {
    const eventId = randomUUID();
    const eventName = unique('test.dead.letter');
    const payload = {
      id: eventId,
      occurred: new Date().toISOString(),
      received: new Date().toISOString(),
      event: eventName,
      resource: { 'prefect.resource.id': 'test.resource.dead' },
      related: [],
      payload: { why: 'browser test' },
    };
    const { rows } = await adminQuery(
      d.databaseUrl,
      `INSERT INTO dead_letter (source, reason, attempts, payload) VALUES ('event-persister', $1, 5, $2) RETURNING id`,
      ['insert failed: simulated outage in the browser test', JSON.stringify(payload)],
    );
    const id = rows[0].id as string;
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/dead-letters`);
      await page.locator(`[data-test=letters] tr[data-id="${id}"]`).click();
      await expectEventually(() => expect(new URL(page.url()).searchParams.get('id')).toBe(id));
      await page.locator('[data-test=letter]', { hasText: 'simulated outage in the browser test' }).waitFor();
      await page.locator('[data-test=letter] pre', { hasText: eventName }).waitFor();
      await screenshot(page, 'dead-letters', { docs: true });
      await page.locator('[data-test=letter] button', { hasText: 'Replay' }).click();
      await page.click('[data-test=confirm]');
      await page.locator('[data-test=replay-note]', { hasText: 'Replayed.' }).waitFor();
      // Replayed letters leave the default list; the event is stored.
      await page
        .locator(`[data-test=letters] tr[data-id="${id}"]`)
        .waitFor({ state: 'detached', timeout: 15_000 });
      await expectEventually(async () => {
        const found = await d.api<{ events: { id: string }[] }>('POST', '/events/filter', {
          filter: { event: { name: [eventName] } },
        });
        expect(found.events.map((e) => e.id)).toEqual([eventId]);
      });
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
