import type { Browser } from 'playwright-core';
import { expectEventually } from '../utils/expect-eventually';
import {
  createTaskRun,
  launchWithDashboard,
  openPage,
  screenshot,
  unique,
  type Dashboard,
} from './dashboard';

describe('Dashboard: task runs and a task run', () => {
  let browser: Browser;
  let d: Dashboard;
  const prefix = unique('alpha');
  let flowRunId: string;
  const ids: string[] = [];

  beforeAll(async () => {
    [browser, d] = await launchWithDashboard();
    const flow = await d.api<{ id: string }>('POST', '/flows/', { name: unique('flow') });
    flowRunId = (await d.api<{ id: string }>('POST', '/flow_runs/', { flow_id: flow.id, name: unique('fr') }))
      .id;
    // 30 runs: the first 12 named `<prefix>-…` and tagged etl; 5 of those FAILED; 4 in the flow run.
    for (let i = 0; i < 30; i++) {
      const run = await createTaskRun(d, {
        name: i < 12 ? `${prefix}-${String(i).padStart(2, '0')}` : unique('other'),
        tags: i < 12 ? ['etl', 'nightly'] : ['adhoc'],
        flow_run_id: i >= 20 && i < 24 ? flowRunId : undefined,
        state: i < 5 ? { type: 'FAILED', message: 'it broke' } : { type: 'COMPLETED' },
      });
      ids.push(run.id);
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all([browser?.close(), d?.stop()]);
  });

  const rows = (page: import('playwright-core').Page) => page.locator('[data-test=runs] tbody tr');

  it('should page through runs on the server, with the page and size in the URL', async () => {
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/task-runs`);
      await page.locator('[data-test=total]', { hasText: '30 task runs' }).waitFor();
      await expectEventually(async () => expect(await rows(page).count()).toBe(25));
      const firstPage = await rows(page).evaluateAll((trs: { getAttribute(name: string): string | null }[]) =>
        trs.map((tr) => tr.getAttribute('data-id')),
      );
      await page.click('[data-test=next]');
      await expectEventually(() => expect(new URL(page.url()).searchParams.get('page')).toBe('2'));
      await page.locator('[data-test=page]', { hasText: 'Page 2 of 2' }).waitFor();
      await expectEventually(async () => expect(await rows(page).count()).toBe(5));
      const secondPage = await rows(page).evaluateAll(
        (trs: { getAttribute(name: string): string | null }[]) => trs.map((tr) => tr.getAttribute('data-id')),
      );
      expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);
      await page.selectOption('[data-test=limit]', '50');
      await expectEventually(() => {
        const u = new URL(page.url());
        expect(u.searchParams.get('limit')).toBe('50');
        expect(u.searchParams.get('page')).toBeNull();
      });
      await expectEventually(async () => expect(await rows(page).count()).toBe(30));
      // Sorting by name, ascending, puts the prefix runs in order.
      await page.selectOption('[data-test=sort]', 'NAME_ASC');
      await expectEventually(() => expect(new URL(page.url()).searchParams.get('sort')).toBe('NAME_ASC'));
      await expectEventually(async () => {
        const names = await rows(page).locator('td:first-child').allTextContents();
        expect(names.filter((n) => n.startsWith(prefix))).toEqual(
          Array.from({ length: 12 }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`),
        );
      });
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('should filter by state, name, tags and flow run, keep the filters in the URL, and reload into the same view', async () => {
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/task-runs`);
      await page.locator('[data-test=total]', { hasText: '30 task runs' }).waitFor();
      await page.check('input[name=state-FAILED]');
      await page.click('[data-test=filters] button[type=submit]');
      await expectEventually(() => expect(new URL(page.url()).searchParams.get('state')).toBe('FAILED'));
      await page.locator('[data-test=total]', { hasText: '5 task runs' }).waitFor();
      await expectEventually(async () =>
        expect(await rows(page).locator('[data-state=FAILED]').count()).toBe(5),
      );

      await page.uncheck('input[name=state-FAILED]');
      await page.fill('input[name=name]', prefix);
      await page.fill('input[name=tags]', 'etl, nightly');
      await page.click('[data-test=filters] button[type=submit]');
      await expectEventually(() => {
        const u = new URL(page.url());
        expect(u.searchParams.get('name')).toBe(prefix);
        expect(u.searchParams.get('tags')).toBe('etl,nightly');
        expect(u.searchParams.get('state')).toBeNull();
      });
      await page.locator('[data-test=total]', { hasText: '12 task runs' }).waitFor();
      await screenshot(page, 'task-runs', { docs: true });

      // A deep link (reload) lands on the same filtered view.
      await page.reload();
      await page.locator('[data-test=total]', { hasText: '12 task runs' }).waitFor();
      expect(await page.inputValue('input[name=name]')).toBe(prefix);

      await page.goto(`${d.baseUrl}/task-runs?flow_run=${flowRunId}`);
      await page.locator('[data-test=total]', { hasText: '4 task runs' }).waitFor();
      await page.goto(`${d.baseUrl}/task-runs?tags=no-such-tag`);
      await page.getByText('No task run matches these filters.').waitFor();
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('should show a run, follow a state change made through the API live, and show the orchestration result of set state', async () => {
    const later = new Date(Date.now() + 3600_000).toISOString();
    const run = await createTaskRun(d, {
      name: unique('detail'),
      tags: ['etl'],
      state: { type: 'SCHEDULED', state_details: { scheduled_time: later } },
    });
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/task-runs/${run.id}`);
      await page.locator('[data-test=current-state][data-state=SCHEDULED]').waitFor();
      await page.locator('[data-test=fields]', { hasText: run.id }).waitFor();

      // SCHEDULED an hour ahead → RUNNING is told to wait: the page says WAIT, why, and for how long.
      await page.selectOption('select[name=state-type]', 'RUNNING');
      await page.click('[data-test=set-state] button:has-text("Set state…")');
      await page.click('[data-test=confirm]');
      const result = page.locator('[data-test=orchestration-result]');
      await result.waitFor();
      expect(await result.getAttribute('data-status')).toBe('WAIT');
      expect(await result.textContent()).toMatch(/WAIT.*retry in/s);

      // Made elsewhere (through the API), seen here without a reload.
      await d.api(
        'POST',
        `/task_runs/${run.id}/set_state`,
        { state: { type: 'RUNNING' }, force: true },
        [200, 201],
      );
      await page.locator('[data-test=current-state][data-state=RUNNING]').waitFor({ timeout: 10_000 });
      await page.locator('[data-test=timeline] [data-state=RUNNING]').waitFor();

      // RUNNING → COMPLETED is accepted.
      await page.selectOption('select[name=state-type]', 'COMPLETED');
      await page.fill('input[name=state-message]', 'done by hand');
      await page.click('[data-test=set-state] button:has-text("Set state…")');
      await page.click('[data-test=confirm]');
      await page.locator('[data-test=orchestration-result][data-status=ACCEPT]').waitFor();
      await page.locator('[data-test=current-state][data-state=COMPLETED]').waitFor();
      const states = await d.api<{ type: string; message: string | null }[]>(
        'GET',
        `/task_run_states/?task_run_id=${run.id}`,
      );
      expect(states.map((s) => s.type)).toEqual(['SCHEDULED', 'RUNNING', 'COMPLETED']);
      expect(states[2].message).toBe('done by hand');
      await screenshot(page, 'task-run', { docs: true });
      expect(t.errors()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('should delete a run after confirmation, and show a clear not-found for its link', async () => {
    const run = await createTaskRun(d, { name: unique('doomed') });
    const t = await openPage(browser);
    try {
      const { page } = t;
      await page.goto(`${d.baseUrl}/task-runs/${run.id}`);
      await page.locator('[data-test=fields]', { hasText: run.id }).waitFor();
      await page.click('[data-test=delete] button:has-text("Delete this task run…")');
      await page.click('[data-test=confirm]');
      await expectEventually(() => expect(new URL(page.url()).pathname).toBe('/task-runs'));
      await d.api('GET', `/task_runs/${run.id}`, undefined, [404]);
      await page.goto(`${d.baseUrl}/task-runs/${run.id}`);
      await page.locator('[data-error-kind=not-found]').waitFor();
      expect(t.errors().filter((e) => !/status of 404/.test(e))).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
