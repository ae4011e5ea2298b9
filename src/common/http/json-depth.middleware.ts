import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestValidationError, ValidationIssue } from '../errors/request-validation.error';
import { markCleanBody, markJsonBody } from '../validation/plain-body-checks';
import { firstNonBlank, jsonTextStart, stringEnd } from './raw-json-bytes';

/**
 * How deeply `value` nests arrays and objects, counting up to `limit + 1` at most (iterative: a hostile body
 * cannot overflow the stack here, and the scan stops as soon as the limit is passed).
 */
export function exceedsDepth(value: unknown, limit: number): boolean {
  return checkJsonShape(value, { maxDepth: limit, maxObjectKeys: Infinity }) !== undefined;
}

export interface JsonShapeLimits {
  maxDepth: number;
  maxObjectKeys: number;
}

/**
 * The first shape problem of a parsed body: nested deeper than `maxDepth`, or an object with more than
 * `maxObjectKeys` keys (found when that object is reached, before any of its keys is looked at, so a
 * 150k-key object costs one `Object.keys`). One linear, iterative pass.
 */
export function checkJsonShape(value: unknown, limits: JsonShapeLimits): ValidationIssue | undefined {
  type Entry = { node: unknown; depth: number; key?: string | number; parent?: Entry };
  const stack: Entry[] = [{ node: value, depth: 0 }];
  while (stack.length) {
    const entry = stack.pop()!;
    const { node, depth } = entry;
    if (node === null || typeof node !== 'object') {
      continue;
    }
    if (depth + 1 > limits.maxDepth) {
      return {
        loc: ['body'],
        msg: `JSON nested more than ${limits.maxDepth} levels deep`,
        type: 'json_invalid',
      };
    }
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (child !== null && typeof child === 'object') {
          stack.push({ node: child, depth: depth + 1, key: i, parent: entry });
        }
      }
      continue;
    }
    const keys = Object.keys(node);
    if (keys.length > limits.maxObjectKeys) {
      const loc: (string | number)[] = [];
      for (let e: Entry | undefined = entry; e && e.key !== undefined; e = e.parent) {
        loc.push(e.key);
      }
      return {
        loc: ['body', ...loc.reverse()],
        msg: `Object should have at most ${limits.maxObjectKeys} keys, not ${keys.length} (HTTP_BODY_MAX_OBJECT_KEYS)`,
        type: 'too_many_keys',
      };
    }
    for (const key of keys) {
      const child = (node as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') {
        stack.push({ node: child, depth: depth + 1, key, parent: entry });
      }
    }
  }
  return undefined;
}

const RAW = Symbol('rawJsonFlags');
interface RawFlags {
  invalidUtf8: boolean;
  /** The raw text's bytes when they are UTF-8 (`rawJsonBody`). */
  utf8Body?: Buffer;
  /** Set when the verify hook parsed the body (a top-level array) from these bytes: what its scan found. */
  parsedArray?: RawJsonArray;
}

/** A top-level array body the verify hook parsed element by element, and what its one scan found. */
export interface RawJsonArray {
  /** `RawJsonScan.bounds`: the `[`, the array's own commas and the `]`. */
  readonly bounds: readonly number[];
  /** `RawJsonScan.numberFlags`. */
  readonly numberFlags: readonly number[];
  /** `RawJsonScan.maxDepth`. */
  readonly maxDepth: number;
  /** The scan's key limit: no object of the text has more keys. */
  readonly maxObjectKeys: number;
}

/**
 * The raw bytes of a request's JSON body, when they were UTF-8 (then the parsed body is exactly their
 * text): `POST /events` stores each event's own bytes instead of serialising it again (docs/events.md).
 */
export function rawJsonBody(req: IncomingMessage): Buffer | undefined {
  const flags = (req as IncomingMessage & { [RAW]?: RawFlags })[RAW];
  return flags && !flags.invalidUtf8 ? flags.utf8Body : undefined;
}

/**
 * The top-level array of a request's JSON body as the verify hook scanned and parsed it (undefined for any
 * other body): `POST /events` takes each event's byte range from it instead of scanning the bytes again.
 */
export function rawJsonArray(req: IncomingMessage): RawJsonArray | undefined {
  const flags = (req as IncomingMessage & { [RAW]?: RawFlags })[RAW];
  return flags && !flags.invalidUtf8 ? flags.parsedArray : undefined;
}

/** JSON escapes and the names JavaScript reserves: a body with none of them needs no text or key checks. */
const NEEDS_CHECKS = ['\\u', '__proto__', 'constructor', 'prototype'];

/** What one pass over a raw JSON text found (`scanRawJson`). */
export interface RawJsonScan {
  /** The first object with more than `maxKeys` keys, with its location. */
  wide?: { loc: (string | number)[] };
  /**
   * When the text is a top-level array: the byte offsets of its `[`, of each of its own commas, and of its `]`
   * (element i lies strictly between `bounds[i]` and `bounds[i + 1]`). Set only when nothing but blanks follows
   * the `]`; the elements themselves are not checked here (`parseArrayElements` does, by parsing them).
   */
  bounds?: number[];
  /**
   * With `bounds`: the indexes of the array's elements whose text has a number with an exponent, a `-0`
   * (also as in `-0.5`) or a run of over 300 digits outside strings, i.e. may not read back as
   * `JSON.stringify` writes it (src/events/raw-event-array.ts says why ingestion cares); increasing.
   */
  numberFlags?: number[];
  /** How many levels of arrays and objects the text nests at most (the top-level value is level 1). */
  maxDepth: number;
}

/**
 * One pass over the bytes of a raw JSON text (strings skipped with `indexOf`, so the work is per structural
 * byte), counting `:` per object and noting the top-level array's commas. A 2.7 MB body with 150k keys blocked
 * the process for hundreds of ms in `JSON.parse` alone; this refuses it first, in a fraction of that.
 * Malformed text is left for `JSON.parse` to refuse. The open containers live in parallel number arrays
 * (no object per container: docs/events.md, "The body parser, second round").
 */
export function scanRawJson(buf: Buffer, maxKeys: number): RawJsonScan {
  // where an array would start: after a UTF-8 byte-order mark (body-parser's decoder drops it) and blanks
  const first = jsonTextStart(buf);
  const isObject: boolean[] = [];
  const count: number[] = [];
  const keyStart: number[] = [];
  const keyEnd: number[] = [];
  let depth = 0;
  let maxDepth = 0;
  let lastStringStart = -1;
  let lastStringEnd = -1;
  let bounds: number[] | undefined;
  // the number flags of a top-level array's elements (`numberFlags`): the byte before, the digit run
  let numberFlags: number[] | undefined;
  let prev = 0;
  let digits = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x22) {
      const end = stringEnd(buf, i);
      if (end < 0) {
        return { maxDepth };
      }
      lastStringStart = i;
      lastStringEnd = end + 1;
      i = end;
      prev = c;
      digits = 0;
      continue;
    }
    if (c >= 0x30 && c <= 0x39) {
      // a digit: counted only inside a top-level array (a number of an element)
      if (bounds !== undefined && (++digits > 300 || (c === 0x30 && prev === 0x2d))) {
        flagElement(numberFlags!, count[0]);
      }
      prev = c;
      continue;
    }
    digits = 0;
    if (c === 0x7b || c === 0x5b) {
      if (i === first && c === 0x5b) {
        bounds = [i];
        numberFlags = [];
      }
      isObject[depth] = c === 0x7b;
      count[depth] = 0;
      keyStart[depth] = -1;
      keyEnd[depth] = -1;
      if (++depth > maxDepth) {
        maxDepth = depth;
      }
    } else if (c === 0x7d || c === 0x5d) {
      if (depth > 0 && --depth === 0 && bounds !== undefined) {
        bounds.push(i);
        if (c === 0x5d && firstNonBlank(buf, i + 1) === buf.length) {
          return { bounds, numberFlags, maxDepth };
        }
        bounds = undefined; // not one array alone: JSON.parse will refuse it (the scan goes on for wide objects)
      }
    } else if (
      bounds !== undefined &&
      (c === 0x45 || c === 0x2b || (c === 0x65 && prev >= 0x30 && prev <= 0x39))
    ) {
      flagElement(numberFlags!, count[0]); // `E`, `+` and an `e` after a digit occur only in exponents
    } else if (c === 0x2c) {
      if (depth > 0 && !isObject[depth - 1]) {
        count[depth - 1]++; // an array's index
        if (depth === 1 && bounds !== undefined) {
          bounds.push(i);
        }
      }
    } else if (c === 0x3a) {
      const top = depth - 1;
      if (top < 0 || !isObject[top]) {
        continue;
      }
      keyStart[top] = lastStringStart;
      keyEnd[top] = lastStringEnd;
      if (++count[top] > maxKeys) {
        const loc: (string | number)[] = [];
        for (let d = 0; d < top; d++) {
          if (!isObject[d]) {
            loc.push(count[d]);
          } else {
            try {
              loc.push(JSON.parse(buf.toString('utf8', keyStart[d], keyEnd[d])) as string);
            } catch {
              return { maxDepth }; // not JSON after all: JSON.parse will say so
            }
          }
        }
        return { wide: { loc }, maxDepth };
      }
    }
    prev = c;
  }
  return { maxDepth };
}

/** Notes element `k` in the increasing list `flags` (once). */
function flagElement(flags: number[], k: number): void {
  if (flags.length === 0 || flags[flags.length - 1] !== k) {
    flags.push(k);
  }
}

/**
 * The first object of a raw JSON text with more than `maxKeys` keys, with its location, found without
 * parsing (`scanRawJson`).
 */
export function findWideObject(buf: Buffer, maxKeys: number): { loc: (string | number)[] } | undefined {
  return scanRawJson(buf, maxKeys).wide;
}

/**
 * The top-level array of a UTF-8 JSON text, parsed one element at a time from `bounds` (`scanRawJson`), or
 * undefined when any element is not JSON (the caller then parses the whole text, which refuses it the same
 * way as before). Same value as `JSON.parse` of the whole text: each element is a complete JSON value between
 * the array's own commas. Why: V8 copies a large body's text into one big string (large-object space) before
 * parsing it; 500-event bodies (≈ 300 KB) cost about twice as much that way as element by element
 * (docs/events.md, "The body parser, second round").
 */
export function parseArrayElements(buf: Buffer, bounds: number[]): unknown[] | undefined {
  const n = bounds.length - 1;
  if (n === 1 && firstNonBlank(buf, bounds[0] + 1) === bounds[1]) {
    return []; // `[]`
  }
  const out = new Array<unknown>(n);
  try {
    for (let k = 0; k < n; k++) {
      out[k] = JSON.parse(buf.toString('utf8', bounds[k] + 1, bounds[k + 1]));
    }
  } catch {
    return undefined;
  }
  return out;
}

/** Thrown from body-parser's `verify` hook: refuses the body before it is parsed. */
class RefusedBeforeParsing extends RequestValidationError {}

/**
 * Thrown from body-parser's `verify` hook with the body already parsed (a top-level array, element by
 * element): body-parser hands it to the next error handler, `takeParsedBody`, which makes it `req.body`.
 * body-parser has no other way to skip its own decoding and parsing of the whole text.
 */
class ParsedBeforeDecoding extends Error {
  constructor(readonly parsed: unknown[]) {
    super('parsed by the verify hook');
  }
}

/** Registered right after the JSON body parser: takes the body `rawJsonInspector` parsed (`ParsedBeforeDecoding`). */
export function takeParsedBody(): ErrorRequestHandler {
  return (error: unknown, req: Request, _res: Response, next: NextFunction): void => {
    if (error instanceof ParsedBeforeDecoding) {
      req.body = error.parsed; // (not `body`: body-parser sets that on the error to the raw bytes)
      return next();
    }
    next(error);
  };
}

const isArrayText = (buf: Buffer): boolean => buf[jsonTextStart(buf)] === 0x5b;

/**
 * body-parser's `verify` hook, on the raw bytes before parsing: refuses (422) a body with an object wider
 * than `maxObjectKeys` without parsing it, and leaves two flags for `jsonBodyMiddleware`: the bytes are not
 * valid UTF-8 (body-parser would silently turn them into U+FFFD), and the text has escapes or reserved names
 * (else the validation pipe can skip its text checks). A valid UTF-8 top-level array is parsed here, element by
 * element (`parseArrayElements`), and handed over to `takeParsedBody`; anything else is left to body-parser.
 */
export function rawJsonInspector(
  maxObjectKeys: number,
): (req: IncomingMessage, res: unknown, buf: Buffer, encoding: string) => void {
  return (req, _res, buf, encoding) => {
    const utf8 = /^utf-?8$/i.test(encoding);
    // An object of more than N keys takes at least 4N bytes (`"":0,`…): smaller bodies cannot have one.
    const scan: Partial<RawJsonScan> =
      utf8 && (buf.length > 4 * maxObjectKeys || isArrayText(buf)) ? scanRawJson(buf, maxObjectKeys) : {};
    if (scan.wide) {
      throw new RefusedBeforeParsing([
        {
          loc: ['body', ...scan.wide.loc],
          msg: `Object should have at most ${maxObjectKeys} keys (HTTP_BODY_MAX_OBJECT_KEYS)`,
          type: 'too_many_keys',
        },
      ]);
    }
    const invalidUtf8 = utf8 && !isUtf8(buf);
    const flags: RawFlags = { invalidUtf8, utf8Body: utf8 ? buf : undefined };
    (req as IncomingMessage & { [RAW]?: RawFlags })[RAW] = flags;
    const parsed = scan.bounds && !invalidUtf8 ? parseArrayElements(buf, scan.bounds) : undefined;
    if (parsed) {
      flags.parsedArray = {
        bounds: scan.bounds!,
        numberFlags: scan.numberFlags!,
        maxDepth: scan.maxDepth!,
        maxObjectKeys,
      };
      throw new ParsedBeforeDecoding(parsed);
    }
  };
}

/** Strings of `body` holding U+FFFD, with their location (keys and values). */
function replacementCharacters(body: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const stack: { node: unknown; loc: (string | number)[] }[] = [{ node: body, loc: ['body'] }];
  const msg = 'Input should be valid UTF-8 (the request has bytes that are not)';
  while (stack.length && issues.length < 20) {
    const { node, loc } = stack.pop()!;
    if (typeof node === 'string') {
      if (node.includes('\uFFFD')) {
        issues.push({ loc, msg, type: 'string_unicode' });
      }
    } else if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push({ node: child, loc: [...loc, i] }));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) {
        if (key.includes('\uFFFD')) {
          issues.push({ loc: [...loc, key], msg: `Key: ${msg}`, type: 'string_unicode' });
        } else {
          stack.push({ node: child, loc: [...loc, key] });
        }
      }
    }
  }
  return issues.length ? issues : [{ loc: ['body'], msg, type: 'string_unicode' }];
}

/**
 * Runs right after the JSON body parser, before any recursive code (class-transformer, class-validator,
 * JSON.stringify) sees the body: refuses bodies nested deeper than HTTP_BODY_MAX_DEPTH (a 5,000-level body
 * overflowed the stack in the validation pipe), objects with more than HTTP_BODY_MAX_OBJECT_KEYS keys, and
 * bytes that are not UTF-8, each with a 422 naming where. Marks bodies without escapes or reserved names
 * as clean for the validation pipe. See docs/operating.md ("Limits and timeouts").
 */
export function jsonBodyMiddleware(limits: JsonShapeLimits): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const body: unknown = req.body;
    const flags = (req as Request & { [RAW]?: RawFlags })[RAW];
    if (body === null || typeof body !== 'object') {
      return next();
    }
    if (flags) {
      markJsonBody(body); // body-parser's `verify` saw its raw text: it came from JSON
    }
    // A body the verify hook parsed: its scan refused wide objects already and measured the depth, so the
    // walk is needed only to name where a too-deep value is.
    const scanned = flags?.parsedArray;
    const shape =
      scanned && scanned.maxDepth <= limits.maxDepth && scanned.maxObjectKeys <= limits.maxObjectKeys
        ? undefined
        : checkJsonShape(body, limits);
    const issues = shape ? [shape] : flags?.invalidUtf8 ? replacementCharacters(body) : [];
    if (issues.length) {
      req.body = null; // never echo it back (the 422 body carries `request_body`)
      return next(new RequestValidationError(issues));
    }
    if (flags) {
      // Whether the text has escapes or reserved names is looked up only if a route's checks ask
      // (`checkPlainBody`): four searches of the whole body that `POST /events` never needs.
      const { utf8Body } = flags;
      markCleanBody(body, () => utf8Body !== undefined && !NEEDS_CHECKS.some((n) => utf8Body.includes(n)));
    }
    next();
  };
}

/** The depth check alone (kept for callers of the first version). */
export function jsonDepthMiddleware(maxDepth: number): RequestHandler {
  return jsonBodyMiddleware({ maxDepth, maxObjectKeys: Infinity });
}
