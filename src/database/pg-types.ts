import { types } from 'pg';
import { normalizeTimestamp } from '../common/time/timestamp';

const TIMESTAMPTZ = 1184;
const TIMESTAMP = 1114;
const INTERVAL = 1186;
const INT8 = 20;

/**
 * Parses PostgreSQL's `postgres`-style interval output (`1 year 2 mons 3 days 04:05:06.789`) into seconds.
 * Years count 365 days and months 30.
 */
export function intervalToSeconds(text: string): number {
  let seconds = 0;
  const unit = /(-?\d+) (year|mon|day)s?/g;
  let m: RegExpExecArray | null;
  while ((m = unit.exec(text))) {
    const n = Number(m[1]);
    seconds += m[2] === 'year' ? n * 365 * 86400 : m[2] === 'mon' ? n * 30 * 86400 : n * 86400;
  }
  const clock = /(-)?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(text);
  if (clock) {
    const value = Number(clock[2]) * 3600 + Number(clock[3]) * 60 + Number(clock[4]);
    seconds += clock[1] ? -value : value;
  }
  return seconds;
}

let installed = false;

/**
 * Process-wide pg parsers, installed once before the first connection:
 * - `timestamptz` → canonical µs ISO string (see common/time/timestamp.ts): `Date` would drop the µs;
 * - `timestamp` (naive) → the same, read as UTC;
 * - `interval` → seconds as a float (Prefect sends durations as float seconds);
 * - `int8` (e.g. `count(*)`) → number.
 */
export function installPgTypeParsers(): void {
  if (installed) {
    return;
  }
  installed = true;
  types.setTypeParser(TIMESTAMPTZ, (value) => normalizeTimestamp(value));
  types.setTypeParser(TIMESTAMP, (value) => normalizeTimestamp(value));
  types.setTypeParser(INTERVAL, (value) => intervalToSeconds(value));
  types.setTypeParser(INT8, (value) => Number(value));
}
