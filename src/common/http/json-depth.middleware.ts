import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { RequestValidationError } from '../errors/request-validation.error';

/**
 * How deeply `value` nests arrays and objects, counting up to `limit + 1` at most (iterative: a hostile body
 * cannot overflow the stack here, and the scan stops as soon as the limit is passed).
 */
export function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: value, depth: 0 }];
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > limit) return true;
    const children = Array.isArray(node) ? node : Object.values(node as Record<string, unknown>);
    for (const child of children) {
      if (child !== null && typeof child === 'object') stack.push({ node: child, depth: depth + 1 });
    }
  }
  return false;
}

/**
 * Refuses JSON bodies nested deeper than `HTTP_BODY_MAX_DEPTH` with a 422 before any recursive code
 * (class-transformer, class-validator, JSON.stringify) sees them: without it a 5,000-level body overflows the
 * stack in the validation pipe and answers 500. Runs right after the JSON body parser.
 */
export function jsonDepthMiddleware(maxDepth: number): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const body: unknown = req.body;
    if (body === null || typeof body !== 'object' || !exceedsDepth(body, maxDepth)) return next();
    req.body = null; // never echo it back (the 422 body carries `request_body`)
    next(
      new RequestValidationError([
        { loc: ['body'], msg: `JSON nested more than ${maxDepth} levels deep`, type: 'json_invalid' },
      ]),
    );
  };
}
