import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from './config/app-config';

export const API_PREFIX = 'api';

/**
 * Everything about the HTTP app that is not a module: shared by `main.ts` and the e2e tests so both run the
 * same server. The global prefix, the plain-websocket adapter (task workers speak `ws`, not socket.io), JSON
 * bodies up to HTTP_BODY_LIMIT, CORS as Prefect allows it, and the OpenAPI document.
 */
export function configureApp(app: INestApplication, config: AppConfig): void {
  const express = app as NestExpressApplication;
  express.setGlobalPrefix(API_PREFIX);
  express.useWebSocketAdapter(new WsAdapter(app));
  // JSON also without a Content-Type header, as Prefect (FastAPI) accepts it.
  express.useBodyParser('json', {
    limit: config.server.bodyLimit,
    type: (req: { headers: Record<string, unknown> }) =>
      !req.headers['content-type'] ||
      /^application\/([\w.+-]*\+)?json\b/i.test(String(req.headers['content-type'])),
  });
  express.enableCors();
  express.disable('x-powered-by');
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Prefect task runs server')
      .setDescription('The task-run slice of the Prefect 3 server API, wire-compatible with Prefect clients.')
      .setVersion('3')
      .build(),
  );
  SwaggerModule.setup(`${API_PREFIX}/docs`, app, document, {
    jsonDocumentUrl: `${API_PREFIX}/openapi.json`,
    yamlDocumentUrl: `${API_PREFIX}/openapi.yaml`,
  });
}
