/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line, e.g.
 * `npm run bench -- events`) one after another, each in its own process, and prints their figures.
 * Each benchmark measures a same-run baseline and prints ratios: the machine is shared and noisy.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((name) => f.startsWith(name)))
  .sort();

if (files.length === 0) {
  process.stderr.write(`no benchmark matches ${only.join(', ')}\n`);
  process.exit(2);
}

let failed = 0;
for (const file of files) {
  process.stdout.write(`\n=== ${file}\n`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['-r', '@swc-node/register', join(__dirname, file)], {
    stdio: 'inherit',
  });
  process.stdout.write(
    `=== ${file}: ${result.status === 0 ? 'done' : `FAILED (${result.status})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  if (result.status !== 0) {
    failed += 1;
  }
}
process.exit(failed ? 1 : 0);
