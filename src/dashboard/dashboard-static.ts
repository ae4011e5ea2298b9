import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/** Where `npm run build` puts the dashboard (web/vite.config.mts): dist/web beside the compiled server. */
export function dashboardDirectory(): string | undefined {
  const candidates = [
    resolve(__dirname, '..', 'web'), // running dist/dashboard/dashboard-static.js
    resolve(__dirname, '..', '..', 'dist', 'web'), // running src/ through swc (start:dev, tests)
  ];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;
/** The page talks only to its own origin (HTTP and websockets); uPlot sets inline styles. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'";

function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

/**
 * Serves the dashboard (docs/dashboard.md) at `/`: `/assets/*` (content-hashed names) cached a year as
 * immutable, and for any other GET outside `/api` that is not a file, `index.html` with `no-cache`, so a deep
 * link such as `/task-runs/<id>` reloads into the same view. The page is public (it holds no data); the API
 * behind it keeps its auth. Without a build (e.g. `start:dev`, unit tests) `/` says how to build it.
 */
export function serveDashboard(app: NestExpressApplication, directory = dashboardDirectory()): void {
  if (!directory) {
    app.use('/', (req: Request, res: Response, next: NextFunction) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path !== '/') {
        return next();
      }
      res
        .status(404)
        .type('text/plain')
        .send(
          'The dashboard is not built: run `npm run build` (or `npm run build:web`). The API is at /api.\n',
        );
    });
    return;
  }
  new Logger('Dashboard').debug({ msg: 'serving the dashboard', directory });
  app.useStaticAssets(join(directory, 'assets'), {
    prefix: '/assets/',
    index: false,
    redirect: false,
    immutable: true,
    maxAge: ONE_YEAR_MS,
    setHeaders: (res: Response) => res.setHeader('X-Content-Type-Options', 'nosniff'),
  });
  const indexFile = join(directory, 'index.html');
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return next();
    }
    // The API and its websockets, missing assets, and file-like paths keep their own answers (404 JSON).
    if (isApiPath(req.path) || req.path.startsWith('/assets/') || /\.[a-z0-9]+$/i.test(req.path)) {
      return next();
    }
    readFile(indexFile).then(
      (html) => {
        res.setHeader('Cache-Control', 'no-cache');
        res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
        res.setHeader('X-Content-Type-Options', 'nosniff');
        // The app sends no ETags (configureApp); the page keeps one so a reload can be a 304.
        res.setHeader('ETag', `W/"${createHash('sha1').update(html).digest('base64url')}"`);
        res.type('html').send(html);
      },
      (err: unknown) => next(err),
    );
  });
}
