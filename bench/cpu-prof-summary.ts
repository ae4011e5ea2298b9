/**
 * Summarises a .cpuprofile: self time by area (our src, framework, driver, node internals) and the top functions.
 *
 *   node -r @swc-node/register bench/cpu-prof-summary.ts /tmp/prof/server-123.cpuprofile
 *
 * The inclusive list counts a sample once per function on its stack (recursion is not counted twice): what a
 * function and everything it calls cost, e.g. the validation pipe or the access log line.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const file = process.argv[2];
if (!file) {
  throw new Error('usage: cpu-prof-summary <file.cpuprofile>');
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
const counts = new Map<number, number>();
for (const s of profile.samples) {
  counts.set(s, (counts.get(s) ?? 0) + 1);
}
const total = profile.samples.length;

function area(url: string, fn: string): string {
  if (!url) {
    return fn === '(idle)' ? '(idle)' : fn === '(garbage collector)' ? '(gc)' : '(program/native)';
  }
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) {
    return m[1];
  }
  if (url.includes('/src/')) {
    return `src/${url.split('/src/')[1].split('/')[0]}`;
  }
  if (url.startsWith('node:')) {
    return url.split('/')[0];
  }
  return url;
}

const fnName = (n: Node): string =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/src\//, 'src/')}:${n.callFrame.lineNumber}`;
const byArea = new Map<string, number>();
const byFn = new Map<string, number>();
for (const n of profile.nodes) {
  const hits = counts.get(n.id) ?? 0;
  if (!hits) {
    continue;
  }
  const a = area(n.callFrame.url, n.callFrame.functionName);
  byArea.set(a, (byArea.get(a) ?? 0) + hits);
  const f = fnName(n);
  byFn.set(f, (byFn.get(f) ?? 0) + hits);
}
const busy = total - (byArea.get('(idle)') ?? 0);
const show = (m: Map<string, number>, n: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .forEach(([k, v]) => process.stdout.write(`${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}\n`));
process.stdout.write(`samples: ${total}, busy: ${busy} (shares below are of busy time)\n-- by area\n`);
show(byArea, 25);
process.stdout.write('-- top functions (self)\n');
show(byFn, 30);

// Inclusive: walk the call tree from the root, carrying the functions already on the stack.
const nodesById = new Map(profile.nodes.map((n) => [n.id, n]));
const childIds = new Set(profile.nodes.flatMap((n) => n.children ?? []));
const inclusive = new Map<string, number>();
/** Samples of the subtree of `id`, adding them to every function on the path once. */
function walk(id: number, onStack: Set<string>): number {
  const n = nodesById.get(id)!;
  const f = fnName(n);
  const fresh = !onStack.has(f);
  if (fresh) {
    onStack.add(f);
  }
  let hits = counts.get(id) ?? 0;
  for (const c of n.children ?? []) {
    hits += walk(c, onStack);
  }
  if (fresh) {
    onStack.delete(f);
    inclusive.set(f, (inclusive.get(f) ?? 0) + hits);
  }
  return hits;
}
for (const n of profile.nodes) {
  if (!childIds.has(n.id)) {
    walk(n.id, new Set());
  }
}
for (const f of [...inclusive.keys()]) {
  if (/^\((root|idle|program)\)/.test(f)) {
    inclusive.delete(f);
  }
}
process.stdout.write('-- top functions (inclusive)\n');
show(inclusive, Number(process.env.TOP_INCLUSIVE ?? 40));
