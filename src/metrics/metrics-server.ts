import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiAuthService, UNAUTHORIZED_BODY } from '../common/auth/api-auth.service';
import { MetricsService } from '../common/metrics/metrics.service';

/** What `/ready` reports: 200 when `ready`, else 503, with the same body as the API's `/api/ready`. */
export type ReadinessProbe = () => Promise<{ ready: boolean }>;

/**
 * A bare HTTP listener for `services start` (which has no HTTP API): `GET /metrics` (or `/api/metrics`) in
 * Prometheus text, behind the auth string when one is set, so the services process can be scraped like the
 * API replicas; and `GET /ready` (or `/api/ready`, open like the API's probes) for orchestrators. Everything
 * else answers 404.
 */
export async function serveMetrics(
  metrics: MetricsService,
  auth: ApiAuthService,
  { host, port }: { host: string; port: number },
  readiness?: ReadinessProbe,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    if (readiness && req.method === 'GET' && (path === '/ready' || path === '/api/ready')) {
      readiness().then(
        (report) => json(report.ready ? 200 : 503, report),
        () => json(503, { ready: false, down: ['readiness check failed'] }),
      );
      return;
    }
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/api/metrics')) {
      return json(404, { detail: 'Not Found' });
    }
    if (!auth.isAuthorized(req.headers.authorization)) {
      return json(401, UNAUTHORIZED_BODY);
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType }).end(body),
      () => json(500, { exception_message: 'Internal Server Error' }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
