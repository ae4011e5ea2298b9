import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { routeTemplate } from '../http/route-template';
import { runWithRequestId } from './request-context';

export const REQUEST_ID_HEADER = 'x-request-id';

/** A client's request id is kept when it is a short token; anything else is replaced by a fresh UUID. */
const CLIENT_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Probes and scrapes are asked every few seconds: their lines are debug, not info. */
const QUIET_ROUTES = new Set(['/api/health', '/api/ready', '/api/metrics']);

/**
 * One structured line per HTTP request (`method`, `route` template, `path`, `status`, `ms`, `request_id`),
 * written when the response closes: after the answer was sent, or when the client went away (status 499). The request id comes from the
 * `x-request-id` header when it is a sane token, else a new UUID; it is returned in the same header and every
 * log line written while handling the request carries it. 5xx lines are errors, 4xx warnings, the rest info.
 * Installed first (see `configureApp`), so requests refused by auth, the body parser or the router are logged.
 */
export function accessLogMiddleware(): RequestHandler {
  const logger = new Logger('HTTP');
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    const offered = req.headers[REQUEST_ID_HEADER];
    const requestId = typeof offered === 'string' && CLIENT_ID.test(offered) ? offered : randomUUID();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    let done = false;
    const finish = (): void => {
      if (done) {
        return;
      }
      done = true;
      const status = res.writableFinished ? res.statusCode : 499;
      const route = routeTemplate(req);
      const line = {
        msg: 'request',
        method: req.method,
        route,
        path: req.path,
        status,
        ms: Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100,
        request_id: requestId,
      };
      try {
        if (status >= 500) {
          logger.error(line);
        } else if (status >= 400) {
          logger.warn(line);
        } else if (QUIET_ROUTES.has(route)) {
          logger.debug(line);
        } else {
          logger.log(line);
        }
      } catch {
        // Logging never takes the server down (this runs in an event listener).
      }
    };
    // 'close' follows 'finish' on every answer, and comes alone when the client went away: one listener.
    res.on('close', finish);
    runWithRequestId(requestId, next);
  };
}
