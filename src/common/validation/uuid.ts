/** A UUID in its hyphenated 8-4-4-4-12 form, any version, either case: what the wire accepts as a UUID. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const HEX_32 = /^[0-9a-f]{32}$/i;

/**
 * Whether `value` is a UUID string (`UUID_PATTERN`). `hyphensOptional` also takes the 32 hex digits without
 * hyphens (Python's `UUID()` and PostgreSQL's `uuid` read both), e.g. for `{id_or_name}` route parameters.
 */
export function isUuid(value: unknown, options: { hyphensOptional?: boolean } = {}): value is string {
  if (typeof value !== 'string') {
    return false;
  }
  return UUID_PATTERN.test(value) || (options.hyphensOptional === true && HEX_32.test(value));
}
