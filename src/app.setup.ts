import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiAuthService } from './common/auth/api-auth.service';
import { onlyIfAuthorized } from './common/auth/authorized-body';
import { docsAuthMiddleware } from './common/auth/docs-auth.middleware';
import { jsonBodyMiddleware, rawJsonInspector } from './common/http/json-depth.middleware';
import { applyServerTimeouts } from './common/http/server-timeouts';
import { accessLogMiddleware } from './common/logging/access-log.middleware';
import { MetricsService } from './common/metrics/metrics.service';
import { BoundedWsAdapter } from './common/websocket/bounded-ws-adapter';
import { AppConfig } from './config/app-config';
import { serveDashboard } from './dashboard/dashboard-static';
import { httpMetricsMiddleware } from './metrics/http-metrics.middleware';
import { createOpenApiDocument } from './openapi/openapi.document';

export const API_PREFIX = 'api';

/** Redirect GET/HEAD of exactly `prefix` and `prefix/` to `target`. */
function docsRedirect(prefix: string, target: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (
      (req.method === 'GET' || req.method === 'HEAD') &&
      (req.path === prefix || req.path === `${prefix}/`)
    ) {
      res.redirect(302, target);
      return;
    }
    next();
  };
}

/**
 * Everything about the HTTP app that is not a module: shared by `main.ts` and the e2e tests so both run the
 * same server. The access log (and request id) first and HTTP metrics next (so every answer is logged and
 * counted), the global prefix, the plain-websocket adapter (task workers speak `ws`, not socket.io), JSON bodies up to HTTP_BODY_LIMIT, CORS as Prefect allows it, and
 * the OpenAPI document (behind the auth string when one is set, as every route but the probes), and the
 * dashboard's static files at `/` (src/dashboard, docs/dashboard.md).
 */
export function configureApp(app: INestApplication, config: AppConfig): void {
  const express = app as NestExpressApplication;
  express.use(accessLogMiddleware());
  express.use(httpMetricsMiddleware(app.get(MetricsService, { strict: false })));
  express.setGlobalPrefix(API_PREFIX);
  express.useWebSocketAdapter(
    new BoundedWsAdapter(app, {
      maxPayload: config.server.websocketMaxMessageSize,
      closeGraceMs: Math.round(config.server.websocketCloseGrace * 1000),
      // An event of the largest accepted size, plus room for its JSON framing.
      maxPayloadByPath: { '/api/events/in': config.events.maximumSizeBytes + 64 * 1024 },
    }),
  );
  applyServerTimeouts(express.getHttpServer(), config.server);
  const auth = app.get(ApiAuthService, { strict: false });
  // JSON also without a Content-Type header, as Prefect (FastAPI) accepts it; never parsed before auth passed.
  const jsonOptions = {
    limit: config.server.bodyLimit,
    // body-parser's hook on the raw bytes: refuses too-wide objects unparsed, flags invalid UTF-8.
    verify: rawJsonInspector(config.server.bodyMaxObjectKeys),
    type: onlyIfAuthorized(
      auth,
      (req) =>
        !req.headers['content-type'] ||
        /^application\/([\w.+-]*\+)?json\b/i.test(String(req.headers['content-type'])),
    ),
  };
  express.useBodyParser('json', jsonOptions);
  express.use(
    jsonBodyMiddleware({
      maxDepth: config.server.bodyMaxDepth,
      maxObjectKeys: config.server.bodyMaxObjectKeys,
    }),
  );
  express.enableCors();
  express.disable('x-powered-by');
  // No ETag on API answers (Prefect sends none): express would hash every body, POST answers included.
  express.set('etag', false);
  serveDashboard(express);
  const document = createOpenApiDocument(app);
  express.use(
    [`/${API_PREFIX}/docs`, `/${API_PREFIX}/openapi.json`, `/${API_PREFIX}/openapi.yaml`],
    docsAuthMiddleware(auth),
  );
  // `/api` and `/api/` lead to the docs page; `/` belongs to the dashboard (docs/reference.md §2).
  express.use(docsRedirect(`/${API_PREFIX}`, `/${API_PREFIX}/docs`));
  SwaggerModule.setup(`${API_PREFIX}/docs`, app, document, {
    jsonDocumentUrl: `${API_PREFIX}/openapi.json`,
    yamlDocumentUrl: `${API_PREFIX}/openapi.yaml`,
  });
}
