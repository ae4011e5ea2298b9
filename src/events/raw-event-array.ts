/**
 * Where each event of a `POST /events` body lies in the request's own bytes, from one pass over them, so
 * that ingestion can check an event's size and store its text without serialising it again
 * (docs/events.md, "Storing the request's own bytes").
 */

import type { RawJsonArray } from '../common/http/json-depth.middleware';
import { firstNonBlank, isBlank, jsonTextStart, stringEnd } from '../common/http/raw-json-bytes';

/** Per element of the body's top-level array: its byte range, and whether its text may be stored as sent. */
export interface RawEventSpans {
  /** First byte of element i. */
  readonly starts: Int32Array;
  /** One past the last byte of element i (its closing brace for an object; trailing blanks excluded). */
  readonly ends: Int32Array;
  /**
   * 1 when the text of element i reads back (JSON.parse) as exactly what JSON.stringify of its parsed value
   * would, and is no shorter than that: no number with an exponent (`1e400` parses to Infinity, which
   * JSON.stringify writes as `null`; `1e5` is shorter than `100000`), no negative zero (`-0` reads back as
   * -0, JSON.stringify writes `0`), no run of over 300 digits, and no `\u0000` escape (the log stores NUL as
   * the visible text `\u0000`). Strings and keys are never touched, so escapes, unicode, blanks and duplicate
   * keys (the last one wins, for JSON.parse as for PostgreSQL) read back the same.
   */
  readonly plain: Uint8Array;
}

const QUOTE = 0x22;
const NUL_ESCAPE = Buffer.from('\\u0000');

/**
 * The spans of the `count` elements of a JSON array text that JSON.parse has already accepted (so it is
 * well-formed: the scan only has to find the top-level commas). Strings are skipped with `indexOf`, so the
 * work outside them is per structural byte. Undefined when the text is not an array of exactly `count`
 * elements (e.g. a body that was not UTF-8 JSON): the caller then serialises every event.
 */
export function scanEventArray(buf: Buffer, count: number): RawEventSpans | undefined {
  const n = buf.length;
  let i = jsonTextStart(buf);
  if (buf[i] !== 0x5b) {
    return undefined;
  }
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  const plain = new Uint8Array(count).fill(1);
  let k = 0;
  let depth = 0;
  let start = -1;
  let last = -1;
  let prev = 0;
  let digits = 0;
  let closed = false;
  for (i++; i < n; i++) {
    const c = buf[i];
    if (c === QUOTE) {
      const end = stringEnd(buf, i);
      if (end < 0) {
        return undefined;
      }
      if (start < 0) {
        start = i;
      }
      i = last = end;
      prev = QUOTE;
      digits = 0;
      continue;
    }
    if (isBlank(c)) {
      prev = c;
      digits = 0;
      continue;
    }
    if (depth === 0 && (c === 0x2c || c === 0x5d)) {
      if (start < 0) {
        if (c === 0x5d && k === 0) {
          closed = true;
          break;
        }
        return undefined;
      }
      if (k >= count) {
        return undefined;
      }
      starts[k] = start;
      ends[k] = last + 1;
      k++;
      start = -1;
      if (c === 0x5d) {
        closed = true;
        break;
      }
      continue;
    }
    if (start < 0) {
      start = i;
    }
    last = i;
    if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c >= 0x30 && c <= 0x39) {
      if (++digits > 300 || (c === 0x30 && prev === 0x2d)) {
        plain[k] = 0;
      }
    } else if (c === 0x45 || c === 0x2b || (c === 0x65 && prev >= 0x30 && prev <= 0x39)) {
      plain[k] = 0; // `E`, `+` and an `e` after a digit occur only in exponents (`true`/`false` have `ue`/`se`)
    }
    if (c < 0x30 || c > 0x39) {
      digits = 0;
    }
    prev = c;
  }
  if (!closed || k !== count) {
    return undefined;
  }
  flagNulEscapes(buf, starts, ends, plain);
  return { starts, ends, plain };
}

/**
 * The same spans as `scanEventArray`, from what the body parser's one scan already found (`rawJsonArray`):
 * the array's own commas and the elements whose numbers may not read back as written. Only the blanks around
 * each element and the NUL escapes are looked at here, not the whole text again. Undefined when the scan
 * does not describe `count` elements.
 */
export function eventSpansFromScan(
  buf: Buffer,
  scan: RawJsonArray,
  count: number,
): RawEventSpans | undefined {
  const { bounds } = scan;
  if (bounds.length !== count + 1 && !(count === 0 && bounds.length === 2)) {
    return undefined;
  }
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  const plain = new Uint8Array(count).fill(1);
  for (let k = 0; k < count; k++) {
    starts[k] = firstNonBlank(buf, bounds[k] + 1);
    let end = bounds[k + 1];
    while (end > starts[k] && isBlank(buf[end - 1])) {
      end--;
    }
    ends[k] = end;
  }
  for (const k of scan.numberFlags) {
    if (k < count) {
      plain[k] = 0;
    }
  }
  flagNulEscapes(buf, starts, ends, plain);
  return { starts, ends, plain };
}

/**
 * NUL can only be written as an escape; rare, so one native search of the whole body decides. Both the
 * matches and the elements come in increasing order: one walk over each (linear).
 */
function flagNulEscapes(buf: Buffer, starts: Int32Array, ends: Int32Array, plain: Uint8Array): void {
  const count = starts.length;
  let e = 0;
  for (let at = buf.indexOf(NUL_ESCAPE); at >= 0 && e < count; at = buf.indexOf(NUL_ESCAPE, at + 1)) {
    while (e < count && ends[e] <= at) {
      e++;
    }
    if (e < count && starts[e] <= at) {
      plain[e] = 0;
    }
  }
}
