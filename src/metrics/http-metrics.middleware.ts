import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { routeTemplate } from '../common/http/route-template';
import { MetricsService } from '../common/metrics/metrics.service';

/**
 * Counts every HTTP request and times it, by method, route template and status. Installed as the first
 * express middleware (see `configureApp`), so requests refused by the auth guard, the body parser or the
 * router are counted too.
 */
export function httpMetricsMiddleware(metrics: MetricsService): RequestHandler {
  const requests = metrics.counter(
    'http_requests_total',
    'HTTP requests answered, by method, route template and status.',
    ['method', 'route', 'status'],
  );
  const duration = metrics.histogram(
    'http_request_duration_seconds',
    'Time to answer an HTTP request, by method, route template and status.',
    ['method', 'route', 'status'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  const inFlight = metrics.gauge('http_requests_in_flight', 'HTTP requests being answered.');
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    inFlight.inc();
    let done = false;
    const finish = (): void => {
      if (done) {
        return;
      }
      done = true;
      inFlight.dec();
      // A client that went away before the answer was written: 499, as nginx counts it.
      const status = res.writableFinished ? String(res.statusCode) : '499';
      const labels = { method: req.method, route: routeTemplate(req), status };
      try {
        requests.inc(labels);
        duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
      } catch {
        // Metrics never take the server down (this runs in an event listener).
      }
    };
    // 'close' follows 'finish' on every answer, and comes alone when the client went away: one listener.
    res.on('close', finish);
    next();
  };
}
