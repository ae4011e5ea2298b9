import type { Browser } from 'playwright-core';
import {
  createTaskRun,
  launchWithDashboard,
  openPage,
  screenshot,
  unique,
  type Dashboard,
} from './dashboard';

const AUTH = 'admin:s3cret ✓';

describe('Dashboard: with PREFECT_SERVER_API_AUTH_STRING set', () => {
  let browser: Browser;
  let d: Dashboard;

  beforeAll(async () => {
    [browser, d] = await launchWithDashboard({ PREFECT_SERVER_API_AUTH_STRING: AUTH });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([browser?.close(), d?.stop()]);
  });

  it('should ask for the credentials once, refuse wrong ones, then use them for every request and websocket', async () => {
    const name = unique('secret-run');
    await createTaskRun(d, { name, state: { type: 'FAILED' } });
    const t = await openPage(browser);
    try {
      const { page } = t;
      // The page itself is public; the API answers 401, so the page shows the login form (no broken view).
      await page.goto(`${d.baseUrl}/task-runs`);
      await page.locator('[data-test=login]').waitFor();
      expect(await page.locator('[data-test=runs]').count()).toBe(0);
      await screenshot(page, 'login', { docs: true });

      await page.fill('input[name=auth]', 'admin:wrong');
      await page.click('[data-test=login] button[type=submit]');
      await page.getByText('Those credentials were refused.').waitFor();

      await page.fill('input[name=auth]', AUTH);
      await page.click('[data-test=login] button[type=submit]');
      await page.locator('[data-test=runs]', { hasText: name }).waitFor();

      // Kept for the tab's session: a reload and other views need no second login.
      await page.reload();
      await page.locator('[data-test=runs]', { hasText: name }).waitFor();
      await page.click('nav a:has-text("Overview")');
      await page.locator('[data-test=counts] [data-state=FAILED] .n', { hasText: '1' }).waitFor();
      // The websocket authenticates with its `auth` message.
      await page.click('nav a:has-text("Events")');
      await page.locator('[data-socket=open]').waitFor();
      expect(await page.locator('[data-test=login]').count()).toBe(0);

      // Signing out asks again.
      await page.click('button:has-text("Sign out")');
      await page.locator('[data-test=login]').waitFor();
      // The browser notes each 401 answer as a console error; nothing else may appear.
      expect(t.errors().filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
