/**
 * Summarises a .cpuprofile: self time by area (our src, framework, driver, node internals) and the top functions
 * (bench/profile.ts, which the benches also use to print the profile of a phase that missed its goal).
 *
 *   node -r @swc-node/register bench/cpu-prof-summary.ts /tmp/prof/server-123.cpuprofile
 *
 * The inclusive list counts a sample once per function on its stack (recursion is not counted twice): what a
 * function and everything it calls cost, e.g. the validation pipe or the access log line.
 */
import { readFileSync } from 'node:fs';
import { CpuProfile, summariseProfile } from './profile';

const file = process.argv[2];
if (!file) {
  throw new Error('usage: cpu-prof-summary <file.cpuprofile>');
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const n = Number(process.env.TOP ?? 30);
process.stdout.write(
  `${summariseProfile(profile, { areas: 25, self: n, inclusive: Number(process.env.TOP_INCLUSIVE ?? 40) }).join('\n')}\n`,
);
