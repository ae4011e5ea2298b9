/**
 * What the benches print about their goals (issue 12, docs/performance.md "Reading the benches' goal lines"):
 * a `goal` line per target, met or not, and, for a target that is not met, a CPU profile of the phase that missed
 * it, summarised: where the process's busy time went, by area (our modules, each library, node internals, GC) and
 * by function. The profile is taken in one extra repetition after the measured ones, so it never slows a figure.
 *
 * - `profileChild`: the server in a child process started with bench/cpu-prof-hook.ts in toggle mode
 *   (`profilingEnv`); SIGUSR2 starts and stops its profiler.
 * - `profileInProcess`: the benches that run the app in their own process (the profile then includes the load
 *   generator, which the summary names as such: its files are under bench/ and test/).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import inspector from 'node:inspector';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processCpuMs } from './process-stats';

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
    children?: number[];
  }[];
  samples: number[];
  startTime: number;
  endTime: number;
  /** Not V8's: the process's CPU time (all threads, /proc) over the profiled window, when `profileChild` read it. */
  cpuSeconds?: number;
}

/** Prints `goal <name>: <value> <op> <target> MET|NOT MET` and says whether it was met. */
export function goal(name: string, value: number, op: '>=' | '<=', target: number): boolean {
  const met = op === '>=' ? value >= target : value <= target;
  process.stdout.write(`goal ${name}: ${value.toFixed(2)} ${op} ${target} ${met ? 'MET' : 'NOT MET'}\n`);
  return met;
}

/** The area a frame belongs to: `src/<module>`, a package, `bench/test` (the load generator), node, GC, idle. */
function area(url: string, fn: string): string {
  if (!url) {
    return fn === '(idle)' ? '(idle)' : fn === '(garbage collector)' ? '(gc)' : '(program/native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) {
    return pkg[1];
  }
  if (url.includes('/src/')) {
    return `src/${url.split('/src/')[1].split('/')[0]}`;
  }
  if (/\/(bench|test)\//.test(url)) {
    return 'bench/test (load generator)';
  }
  return url.startsWith('node:') ? url.split('/')[0] : url;
}

const frameName = (n: CpuProfile['nodes'][number]): string =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url
    .replace(/.*node_modules\//, '')
    .replace(/.*\/src\//, 'src/')}:${n.callFrame.lineNumber}`;

/**
 * The summary lines of a profile: busy share of the wall time, then the top areas and functions by self time and
 * the top functions by inclusive time (a sample counts once per function on its stack), as shares of busy time.
 */
export function summariseProfile(
  profile: CpuProfile,
  top = { areas: 12, self: 15, inclusive: 15 },
): string[] {
  const counts = new Map<number, number>();
  for (const s of profile.samples) {
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const byArea = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const n of profile.nodes) {
    const hits = counts.get(n.id) ?? 0;
    if (hits) {
      const a = area(n.callFrame.url, n.callFrame.functionName);
      byArea.set(a, (byArea.get(a) ?? 0) + hits);
      byFn.set(frameName(n), (byFn.get(frameName(n)) ?? 0) + hits);
    }
  }
  const idle = byArea.get('(idle)') ?? 0;
  byArea.delete('(idle)');
  for (const f of [...byFn.keys()]) {
    if (f.startsWith('(idle) ')) {
      byFn.delete(f);
    }
  }
  const busy = Math.max(1, total - idle);

  const nodesById = new Map(profile.nodes.map((n) => [n.id, n]));
  const childIds = new Set(profile.nodes.flatMap((n) => n.children ?? []));
  const inclusive = new Map<string, number>();
  // Iterative walk (a deep stack must not overflow ours): enter, then leave after the children.
  for (const root of profile.nodes.filter((n) => !childIds.has(n.id))) {
    const onStack = new Set<string>();
    const stack: { id: number; phase: 'enter' | 'leave'; fresh?: boolean }[] = [
      { id: root.id, phase: 'enter' },
    ];
    const subtree = new Map<number, number>();
    while (stack.length) {
      const top = stack.pop()!;
      const n = nodesById.get(top.id)!;
      const f = frameName(n);
      if (top.phase === 'enter') {
        const fresh = !onStack.has(f);
        if (fresh) {
          onStack.add(f);
        }
        stack.push({ id: top.id, phase: 'leave', fresh });
        for (const c of n.children ?? []) {
          stack.push({ id: c, phase: 'enter' });
        }
      } else {
        const hits =
          (counts.get(top.id) ?? 0) + (n.children ?? []).reduce((s, c) => s + (subtree.get(c) ?? 0), 0);
        subtree.set(top.id, hits);
        if (top.fresh) {
          onStack.delete(f);
          inclusive.set(f, (inclusive.get(f) ?? 0) + hits);
        }
      }
    }
  }
  for (const f of [...inclusive.keys()]) {
    if (/^\((root|idle|program)\)/.test(f)) {
      inclusive.delete(f);
    }
  }
  const list = (m: Map<string, number>, n: number): string[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const busySeconds = (seconds * (total - idle)) / Math.max(1, total);
  // The sampler counts wall time: a thread that waits for a core inside a system call is "busy" in it. The
  // process's CPU time over the same window tells how much of the busy time was spent on a core.
  const cpu =
    profile.cpuSeconds == null
      ? []
      : [
          `CPU time of the process over the window (/proc, every thread): ${profile.cpuSeconds.toFixed(2)} s, against ${busySeconds.toFixed(2)} s of busy samples of its main thread`,
        ];
  return [
    `${total} samples over ${seconds.toFixed(1)} s; busy ${((100 * (total - idle)) / Math.max(1, total)).toFixed(0)}% of them (shares below are of busy time)`,
    ...cpu,
    '-- by area (self)',
    ...list(byArea, top.areas),
    '-- top functions (self)',
    ...list(byFn, top.self),
    '-- top functions (inclusive)',
    ...list(inclusive, top.inclusive),
  ];
}

/** Prints a summary under a heading, each line prefixed with `# ` (the figure lines stay machine-readable). */
export function printProfile(heading: string, profile: CpuProfile, closing: string): void {
  const lines = [heading, ...summariseProfile(profile), closing];
  process.stdout.write(lines.map((l) => `# ${l}\n`).join(''));
}

/** Environment for a child server whose profiler SIGUSR2 toggles (bench/cpu-prof-hook.ts); pass to `profileChild`. */
export function profilingEnv(dir = mkdtempSync(path.join(tmpdir(), 'bench-prof-'))): Record<string, string> {
  return {
    NODE_OPTIONS: `--require @swc-node/register --require ${require.resolve('./cpu-prof-hook.ts')}`,
    BENCH_CPU_PROF: dir,
    BENCH_CPU_PROF_TOGGLE: '1',
  };
}

/**
 * Runs `work` with the child's profiler on (toggle mode, see `profilingEnv`) and returns the profile it wrote.
 * The profile file is removed once read unless the directory was the caller's own (`BENCH_CPU_PROF`).
 */
export async function profileChild(
  pid: number,
  env: Record<string, string>,
  work: () => Promise<unknown>,
): Promise<CpuProfile> {
  const dir = env.BENCH_CPU_PROF;
  const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 100)); // the profiler has started
  const cpuBefore = processCpuMs(pid);
  let cpuAfter: number | undefined;
  try {
    await work();
  } finally {
    cpuAfter = processCpuMs(pid);
    process.kill(pid, 'SIGUSR2');
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const fresh = (existsSync(dir) ? readdirSync(dir) : []).filter(
      (f) => f.endsWith('.cpuprofile') && !before.has(f),
    );
    if (fresh.length) {
      await new Promise((r) => setTimeout(r, 200)); // written in one synchronous call, but let it land
      const file = path.join(dir, fresh[0]);
      const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        profile.cpuSeconds = (cpuAfter - cpuBefore) / 1000;
      }
      if (!process.env.BENCH_CPU_PROF) {
        rmSync(file, { force: true });
      }
      return profile;
    }
    if (Date.now() > deadline) {
      throw new Error(`the server did not write its profile into ${dir} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `work` under this process's own profiler (node:inspector) and returns the profile. */
export async function profileInProcess(work: () => Promise<unknown>): Promise<CpuProfile> {
  const session = new inspector.Session();
  session.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))),
    );
  await post('Profiler.enable');
  await post('Profiler.start');
  let failure: unknown = null;
  try {
    await work();
  } catch (err) {
    failure = err; // stop the profiler first
  }
  const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop');
  session.disconnect();
  if (failure) {
    throw failure;
  }
  return profile;
}
