/**
 * Microsecond timestamps. JS `Date` keeps milliseconds only, so timestamps travel through the app as
 * canonical ISO strings with six fractional digits and a `Z` (`2026-01-02T03:04:05.123456Z`), and as integer
 * microseconds since the epoch (a JS number: exact until the year 2255) when they need arithmetic.
 * PostgreSQL stores `timestamptz` with µs precision; the pg type parser installed by the database module
 * returns these strings instead of `Date`s.
 */
export type Timestamp = string;

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?(?::?\d{2})?)?$/;

export class InvalidTimestampError extends Error {
  constructor(input: unknown) {
    super(`Invalid datetime: ${JSON.stringify(input)}`);
    this.name = 'InvalidTimestampError';
  }
}

/** Integer µs since the epoch, from an ISO-8601 string (naive means UTC). Throws `InvalidTimestampError`. */
export function toMicros(input: string): number {
  const m = ISO.exec(input.trim());
  if (!m) {
    throw new InvalidTimestampError(input);
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60) {
    throw new InvalidTimestampError(input);
  }
  const ms = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  if (Number.isNaN(ms) || new Date(ms).getUTCDate() !== day) {
    throw new InvalidTimestampError(input);
  }
  const micros = Number((frac + '000000').slice(0, 6));
  let offsetMinutes = 0;
  if (tz && tz !== 'Z' && tz !== 'z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const digits = tz.slice(1).replace(/:/g, '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  }
  return ms * 1000 + micros - offsetMinutes * 60_000_000;
}

/** The canonical wire form of µs since the epoch. */
export function fromMicros(micros: number): Timestamp {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}

/** Normalises any accepted ISO-8601 input (offsets, naive = UTC, any precision) to the canonical form. */
export function normalizeTimestamp(input: string): Timestamp {
  return fromMicros(toMicros(input));
}

export function isTimestamp(input: unknown): input is string {
  if (typeof input !== 'string') {
    return false;
  }
  try {
    toMicros(input);
    return true;
  } catch {
    return false;
  }
}

export function fromDate(date: Date): Timestamp {
  return fromMicros(date.getTime() * 1000);
}

/** Seconds between two timestamps (b − a), as a float. */
export function secondsBetween(a: Timestamp, b: Timestamp): number {
  return (toMicros(b) - toMicros(a)) / 1e6;
}
