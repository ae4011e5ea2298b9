/** Collects positional parameters for one parameterised statement; SQL text never contains input. */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Adds a value and returns its placeholder, with an optional cast (`$3::uuid[]`). */
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return cast ? `$${this.values.length}::${cast}` : `$${this.values.length}`;
  }
}

/** Joins criteria with AND / OR; null when there are none (an empty filter matches everything). */
export function combine(
  parts: (string | null | undefined)[],
  operator: 'and_' | 'or_' = 'and_',
): string | null {
  const kept = parts.filter((p): p is string => !!p);
  if (!kept.length) {
    return null;
  }
  if (kept.length === 1) {
    return kept[0];
  }
  return `(${kept.join(operator === 'or_' ? ' OR ' : ' AND ')})`;
}
