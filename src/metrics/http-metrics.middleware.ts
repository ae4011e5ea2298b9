import type { RequestObserver } from '../common/logging/access-log.middleware';
import { MetricsService } from '../common/metrics/metrics.service';

/**
 * Counts every HTTP request and times it, by method, route template and status, as an observer of the access
 * log's layer (`accessLogMiddleware(observer)`, installed first by `configureApp`), so requests refused by the
 * auth guard, the body parser or the router are counted too.
 */
export function httpMetricsObserver(metrics: MetricsService): RequestObserver {
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
  return {
    begin: () => inFlight.inc(),
    end: (method, route, status, elapsedNs) => {
      inFlight.dec();
      // A client that went away before the answer was written: 499, as nginx counts it.
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, elapsedNs / 1e9);
    },
  };
}
