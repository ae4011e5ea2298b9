/**
 * Resource specifications (docs/reference.md §2): `{label: glob | [glob]}`. Every listed label must be present and match
 * at least one of its values; a value is a glob (`*` any run, `?` one character) and a leading `!` negates
 * it. An empty specification matches everything.
 */
export type ResourceSpecification = Record<string, string[]>;

export interface LabelPattern {
  negated: boolean;
  /** The glob without its `!`. */
  glob: string;
}

export function parsePattern(value: string): LabelPattern {
  return value.startsWith('!') ? { negated: true, glob: value.slice(1) } : { negated: false, glob: value };
}

const regexCache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = regexCache.get(glob);
  if (!re) {
    const body = glob
      .split('')
      .map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`);
    if (regexCache.size > 10_000) {
      regexCache.clear();
    }
    regexCache.set(glob, re);
  }
  return re;
}

/** The SQL `LIKE` pattern (escape character `\`) of a glob. */
export function globToLike(glob: string): string {
  return glob
    .split('')
    .map((c) => (c === '*' ? '%' : c === '?' ? '_' : c === '%' || c === '_' || c === '\\' ? `\\${c}` : c))
    .join('');
}

export function labelMatches(value: string | undefined, patterns: readonly string[]): boolean {
  if (value === undefined) {
    return false;
  }
  return patterns.some((p) => {
    const { negated, glob } = parsePattern(p);
    const hit = globToRegExp(glob).test(value);
    return negated ? !hit : hit;
  });
}

export function specificationMatches(spec: ResourceSpecification, labels: Record<string, string>): boolean {
  for (const [label, patterns] of Object.entries(spec)) {
    if (!labelMatches(labels[label], patterns)) {
      return false;
    }
  }
  return true;
}
