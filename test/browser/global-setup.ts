/**
 * Browser tests need the test databases (as the e2e project) and a built dashboard. The dashboard is built
 * here when dist/web is missing (CI runs `npm run build` before the tests; a bare `npx jest` builds it), so
 * a run never tests a stale or absent page by accident: the build's failure fails the run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import e2eGlobalSetup from '../utils/global-setup';

declare global {
  var __PTR_BROWSER_OWNS_RUN__: boolean | undefined;
}

const ROOT = resolve(__dirname, '..', '..');

export default async function globalSetup(): Promise<void> {
  if (!existsSync(resolve(ROOT, 'dist', 'web', 'index.html'))) {
    process.stdout.write('\n[browser] dist/web is missing: building the dashboard (npm run build:web)\n');
    execFileSync(
      process.execPath,
      [
        resolve(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--config',
        'web/vite.config.mts',
        '--logLevel',
        'warn',
      ],
      {
        cwd: ROOT,
        stdio: 'inherit',
        timeout: 300_000,
      },
    );
  }
  // The e2e project's setup may have created this run's databases already (both projects in one jest run).
  if (!process.env.PTR_TEST_RUN_ID) {
    await e2eGlobalSetup();
    globalThis.__PTR_BROWSER_OWNS_RUN__ = true;
  }
}
