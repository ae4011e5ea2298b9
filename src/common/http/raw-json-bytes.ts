/**
 * Byte-level primitives of the raw-JSON scanners that run before (or instead of) `JSON.parse`: the body
 * parser's one pass (json-depth.middleware.ts) and the event-array spans of `POST /events`
 * (src/events/raw-event-array.ts). docs/events.md, "Storing the request's own bytes".
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** JSON's four blanks (space, LF, CR, tab). */
export const isBlank = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** The first index at or after `from` that is not a JSON blank (`buf.length` when there is none). */
export function firstNonBlank(buf: Buffer, from: number): number {
  let i = from;
  while (i < buf.length && isBlank(buf[i])) {
    i++;
  }
  return i;
}

/** Where a JSON text's value starts: after a UTF-8 byte-order mark (the body parser drops it) and blanks. */
export function jsonTextStart(buf: Buffer): number {
  return firstNonBlank(buf, buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0);
}

/**
 * The closing quote of the string whose opening quote is at `open` (the first quote after it that is not
 * preceded by an odd number of backslashes), or -1 when the text ends first. Found with `indexOf`, so a
 * scan that skips strings this way does work per structural byte only.
 */
export function stringEnd(buf: Buffer, open: number): number {
  let end = open;
  for (;;) {
    end = buf.indexOf(QUOTE, end + 1);
    if (end < 0) {
      return -1;
    }
    let backslashes = 0;
    for (let j = end - 1; buf[j] === BACKSLASH; j--) {
      backslashes++;
    }
    if (backslashes % 2 === 0) {
      return end;
    }
  }
}
