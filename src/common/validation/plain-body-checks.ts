import { ValidationIssue } from '../errors/request-validation.error';

/** Names that JavaScript gives a meaning on every object; never accepted as a key of a request body. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Default of HTTP_BODY_MAX_OBJECT_KEYS. */
export const DEFAULT_MAX_OBJECT_KEYS = 10_000;

export interface PlainBodyLimits {
  /** Most keys one JSON object may have (a free-form `labels`, `parameters`, `task_inputs`…). */
  maxObjectKeys: number;
}

/** Bodies marked clean, each with its (lazy, memoised) verdict. */
const CLEAN_BODIES = new WeakMap<object, () => boolean>();
const JSON_BODIES = new WeakSet<object>();

/** Marks a request body that the JSON body parser produced (no sparse arrays, no binary values). */
export function markJsonBody(body: object): void {
  JSON_BODIES.add(body);
}

/** Whether `value` is a request body parsed from JSON text (see `markJsonBody`). */
export function isJsonBody(value: unknown): boolean {
  return value !== null && typeof value === 'object' && JSON_BODIES.has(value);
}

/**
 * Marks a parsed body whose raw text may have no JSON escapes (`\u…`, the only way to write NUL or a lone
 * surrogate) and none of the reserved names: when `isClean` says so, `checkPlainBody` has nothing to find in
 * it and skips the walk. `isClean` runs only when `checkPlainBody` first asks, once (the JSON middleware passes
 * the search of the raw text, which routes without these checks, like `POST /events`, never need).
 */
export function markCleanBody(body: object, isClean: () => boolean): void {
  let verdict: boolean | undefined;
  CLEAN_BODIES.set(body, () => (verdict ??= isClean()));
}

function isCleanBody(body: object): boolean {
  const verdict = CLEAN_BODIES.get(body);
  return verdict !== undefined && verdict();
}

/** Stop after this many issues: a hostile body must not make an equally hostile 422. */
const MAX_ISSUES = 20;

type Loc = (string | number)[];

/** Why a string cannot be accepted as text, or undefined when it can. */
export function textProblem(value: string): { msg: string; type: string } | undefined {
  if (value.includes('\u0000')) {
    return { msg: 'String should not contain NUL characters (\\u0000)', type: 'string_nul' };
  }
  if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) {
    return {
      msg: 'String should be valid Unicode (it has a lone surrogate, e.g. \\ud800, that no text can hold)',
      type: 'string_unicode',
    };
  }
  return undefined;
}

/**
 * One linear pass over a parsed request body, before any class transformation: objects with more than
 * `maxObjectKeys` keys, reserved keys (`__proto__`, `constructor`, `prototype`: class-transformer would drop
 * them silently), and strings (keys and values) that are not text PostgreSQL can store (NUL) or not valid
 * Unicode (lone surrogates, which the driver would turn into U+FFFD, so two different names would become
 * one). Iterative, so a deep body cannot overflow the stack (depth is limited before, by the JSON middleware).
 */
export function checkPlainBody(
  body: unknown,
  limits: PlainBodyLimits,
  root: Loc = ['body'],
): ValidationIssue[] {
  if (body !== null && typeof body === 'object' && isCleanBody(body)) {
    return [];
  }
  // Locations are built only for issues: each entry points at its parent (no path copy per node).
  type Entry = { node: unknown; key?: string | number; parent?: Entry };
  const locOf = (entry: Entry, key?: string): Loc => {
    const path: Loc = key === undefined ? [] : [key];
    for (let e: Entry | undefined = entry; e && e.key !== undefined; e = e.parent) {
      path.push(e.key);
    }
    return [...root, ...path.reverse()];
  };
  const issues: ValidationIssue[] = [];
  const stack: Entry[] = [{ node: body }];
  while (stack.length && issues.length < MAX_ISSUES) {
    const entry = stack.pop()!;
    const node = entry.node;
    if (typeof node === 'string') {
      const problem = textProblem(node);
      if (problem) {
        issues.push({ loc: locOf(entry), ...problem, input: node });
      }
      continue;
    }
    if (node === null || typeof node !== 'object') {
      continue;
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        stack.push({ node: node[i], key: i, parent: entry });
      }
      continue;
    }
    const keys = Object.keys(node);
    if (keys.length > limits.maxObjectKeys) {
      issues.push({
        loc: locOf(entry),
        msg: `Object should have at most ${limits.maxObjectKeys} keys, not ${keys.length} (HTTP_BODY_MAX_OBJECT_KEYS)`,
        type: 'too_many_keys',
      });
      continue;
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (RESERVED_KEYS.has(key)) {
        issues.push({
          loc: locOf(entry, key),
          msg: `property ${key} should not exist`,
          type: 'extra_forbidden',
        });
        continue;
      }
      const problem = textProblem(key);
      if (problem) {
        issues.push({ loc: locOf(entry, key), msg: `Key: ${problem.msg}`, type: problem.type });
        continue;
      }
      stack.push({ node: (node as Record<string, unknown>)[key], key, parent: entry });
    }
  }
  return issues;
}
