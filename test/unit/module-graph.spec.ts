import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/**
 * The folder-level module graph of src/: an edge `a -> b` when a file under src/a/ imports one under src/b/
 * (specs and type-only imports included: a reader follows those too). Files directly in src/ (main.ts,
 * app.module.ts, bindings.module.ts, ...) compose the app: they may import any folder, no folder may import them.
 * The graph must have no cycle, and docs/architecture.md must draw it as it is (the block between the
 * `module-graph` markers).
 */

const ROOT = resolve(__dirname, '..', '..');
const SRC = join(ROOT, 'src');
const DOC = join(ROOT, 'docs', 'architecture.md');
const ROOT_NODE = '(src)';

export type FolderGraph = Map<string, Map<string, string[]>>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      return sourceFiles(path);
    }
    return name.endsWith('.ts') ? [path] : [];
  });
}

function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0] : ROOT_NODE;
}

/** Every folder under src/ with the folders it imports, and for each edge the import lines that make it. */
export function computeFolderGraph(srcDir = SRC): FolderGraph {
  const graph: FolderGraph = new Map();
  for (const name of readdirSync(srcDir)) {
    if (statSync(join(srcDir, name)).isDirectory()) {
      graph.set(name, new Map());
    }
  }
  graph.set(ROOT_NODE, new Map());
  for (const file of sourceFiles(srcDir)) {
    const from = folderOf(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) {
        continue;
      }
      const target = resolve(dirname(file), fileName);
      if (!target.startsWith(srcDir + sep)) {
        continue;
      }
      const to = folderOf(target.endsWith('.ts') ? target : `${target}.ts`);
      if (to === from) {
        continue;
      }
      const edges = graph.get(from)!;
      const why = `${relative(ROOT, file)} imports '${fileName}'`;
      edges.set(to, [...(edges.get(to) ?? []), why]);
    }
  }
  return graph;
}

/** One cycle (as a closed path `a -> b -> a`), or undefined when the graph has none. */
export function findCycle(graph: FolderGraph): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    path.push(node);
    for (const next of [...(graph.get(node)?.keys() ?? [])].sort()) {
      if (state.get(next) === 'open') {
        return [...path.slice(path.indexOf(next)), next];
      }
      if (!state.has(next)) {
        const found = visit(next);
        if (found) {
          return found;
        }
      }
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.has(node)) {
      continue;
    }
    const found = visit(node);
    if (found) {
      return found;
    }
  }
  return undefined;
}

/** `folder -> a, b` per folder, sorted; `folder -> (none)` for a folder that imports no other. */
export function renderGraph(graph: FolderGraph): string[] {
  return [...graph.keys()]
    .filter((node) => node !== ROOT_NODE)
    .sort()
    .map((node) => {
      const targets = [...graph.get(node)!.keys()].sort();
      return `${node} -> ${targets.length ? targets.join(', ') : '(none)'}`;
    });
}

function documentedGraph(): string[] {
  const text = readFileSync(DOC, 'utf8');
  const block = /<!-- module-graph:start -->([\s\S]*?)<!-- module-graph:end -->/.exec(text);
  if (!block) {
    throw new Error(`${relative(ROOT, DOC)} has no <!-- module-graph:start --> … end block`);
  }
  return block[1]
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.includes(' -> '));
}

describe('the folder graph of src/', () => {
  const graph = computeFolderGraph();

  it('should have no cycle between top-level folders', () => {
    const cycle = findCycle(graph);
    const detail = cycle
      ?.slice(1)
      .map((to, i) => `  ${cycle[i]} -> ${to}: ${graph.get(cycle[i])!.get(to)![0]}`)
      .join('\n');
    expect(cycle ? `folder cycle ${cycle.join(' -> ')}\n${detail}` : 'no cycle').toBe('no cycle');
  });

  it('should let no folder import the composition files directly in src/', () => {
    const importers = [...graph.entries()]
      .filter(([node, edges]) => node !== ROOT_NODE && edges.has(ROOT_NODE))
      .map(([node, edges]) => `${node}: ${edges.get(ROOT_NODE)![0]}`);
    expect(importers).toEqual([]);
  });

  it('should be drawn as it is in docs/architecture.md (between the module-graph markers)', () => {
    // On a mismatch, paste the received lines into the block.
    expect(documentedGraph()).toEqual(renderGraph(graph));
  });
});

describe(findCycle.name, () => {
  const graphOf = (edges: Record<string, string[]>): FolderGraph =>
    new Map(Object.entries(edges).map(([from, tos]) => [from, new Map(tos.map((to) => [to, ['x']]))]));

  it('should name a cycle through several folders', () => {
    expect(findCycle(graphOf({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] }))).toEqual(['a', 'b', 'c', 'a']);
  });

  it('should find none in a layered graph', () => {
    expect(findCycle(graphOf({ a: ['b', 'c'], b: ['c'], c: [], d: ['a', 'c'] }))).toBeUndefined();
  });
});
