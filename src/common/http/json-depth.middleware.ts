import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestValidationError, ValidationIssue } from '../errors/request-validation.error';
import { markCleanBody, markJsonBody } from '../validation/plain-body-checks';

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
type RawFlags = { invalidUtf8: boolean; needsTextChecks: boolean; utf8Body?: Buffer };

/**
 * The raw bytes of a request's JSON body, when they were UTF-8 (then the parsed body is exactly their
 * text): `POST /events` stores each event's own bytes instead of serialising it again (docs/events.md).
 */
export function rawJsonBody(req: IncomingMessage): Buffer | undefined {
  const flags = (req as IncomingMessage & { [RAW]?: RawFlags })[RAW];
  return flags && !flags.invalidUtf8 ? flags.utf8Body : undefined;
}

/** JSON escapes and the names JavaScript reserves: a body with none of them needs no text or key checks. */
const NEEDS_CHECKS = ['\\u', '__proto__', 'constructor', 'prototype'];

/**
 * The first object of a raw JSON text with more than `maxKeys` keys, with its location, found without
 * parsing: one pass over the bytes counting `:` per object (strings skipped). A 2.7 MB body with 150k keys
 * blocked the process for hundreds of ms in `JSON.parse` alone; this refuses it first, in a fraction of that.
 * Malformed text is left for `JSON.parse` to refuse.
 */
export function findWideObject(buf: Buffer, maxKeys: number): { loc: (string | number)[] } | undefined {
  type Frame = { object: boolean; count: number; index: number; keyStart: number; keyEnd: number };
  const frames: Frame[] = [];
  let lastStringStart = -1;
  let lastStringEnd = -1;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x22) {
      // a string: jump to its closing quote (one not preceded by an odd number of backslashes)
      let end = i;
      for (;;) {
        end = buf.indexOf(0x22, end + 1);
        if (end < 0) {
          return undefined;
        }
        let backslashes = 0;
        for (let j = end - 1; buf[j] === 0x5c; j--) {
          backslashes++;
        }
        if (backslashes % 2 === 0) {
          break;
        }
      }
      lastStringStart = i;
      lastStringEnd = end + 1;
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      frames.push({ object: c === 0x7b, count: 0, index: 0, keyStart: -1, keyEnd: -1 });
    } else if (c === 0x7d || c === 0x5d) {
      frames.pop();
    } else if (c === 0x2c) {
      const top = frames[frames.length - 1];
      if (top && !top.object) {
        top.index++;
      }
    } else if (c === 0x3a) {
      const top = frames[frames.length - 1];
      if (!top?.object) {
        continue;
      }
      top.keyStart = lastStringStart;
      top.keyEnd = lastStringEnd;
      if (++top.count > maxKeys) {
        const loc: (string | number)[] = [];
        for (const frame of frames.slice(0, -1)) {
          if (!frame.object) {
            loc.push(frame.index);
          } else {
            try {
              loc.push(JSON.parse(buf.toString('utf8', frame.keyStart, frame.keyEnd)) as string);
            } catch {
              return undefined; // not JSON after all: JSON.parse will say so
            }
          }
        }
        return { loc };
      }
    }
  }
  return undefined;
}

/** Thrown from body-parser's `verify` hook: refuses the body before it is parsed. */
class RefusedBeforeParsing extends RequestValidationError {}

/**
 * body-parser's `verify` hook, on the raw bytes before parsing: refuses (422) a body with an object wider
 * than `maxObjectKeys` without parsing it, and leaves two flags for `jsonBodyMiddleware`: the bytes are not
 * valid UTF-8 (body-parser would silently turn them into U+FFFD), and the text has escapes or reserved names
 * (else the validation pipe can skip its text checks).
 */
export function rawJsonInspector(
  maxObjectKeys: number,
): (req: IncomingMessage, res: unknown, buf: Buffer, encoding: string) => void {
  return (req, _res, buf, encoding) => {
    const utf8 = /^utf-?8$/i.test(encoding);
    // An object of more than N keys takes at least 4N bytes (`"":0,`…): smaller bodies cannot have one.
    const wide = utf8 && buf.length > 4 * maxObjectKeys ? findWideObject(buf, maxObjectKeys) : undefined;
    if (wide) {
      throw new RefusedBeforeParsing([
        {
          loc: ['body', ...wide.loc],
          msg: `Object should have at most ${maxObjectKeys} keys (HTTP_BODY_MAX_OBJECT_KEYS)`,
          type: 'too_many_keys',
        },
      ]);
    }
    (req as IncomingMessage & { [RAW]?: RawFlags })[RAW] = {
      invalidUtf8: utf8 && !isUtf8(buf),
      needsTextChecks: !utf8 || NEEDS_CHECKS.some((needle) => buf.includes(needle)),
      utf8Body: utf8 ? buf : undefined,
    };
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
    const shape = checkJsonShape(body, limits);
    const issues = shape ? [shape] : flags?.invalidUtf8 ? replacementCharacters(body) : [];
    if (issues.length) {
      req.body = null; // never echo it back (the 422 body carries `request_body`)
      return next(new RequestValidationError(issues));
    }
    if (flags && !flags.needsTextChecks) {
      markCleanBody(body);
    }
    next();
  };
}

/** The depth check alone (kept for callers of the first version). */
export function jsonDepthMiddleware(maxDepth: number): RequestHandler {
  return jsonBodyMiddleware({ maxDepth, maxObjectKeys: Infinity });
}
