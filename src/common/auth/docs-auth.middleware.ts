import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiAuthService, UNAUTHORIZED_BODY } from './api-auth.service';

/**
 * The OpenAPI document and the docs page are served by express directly (SwaggerModule), outside the Nest
 * router and so outside the global guard: this applies the same check. It also asks browsers for basic
 * credentials (`WWW-Authenticate`), so `/api/docs` stays usable from a browser with an auth string `user:pass`.
 */
export function docsAuthMiddleware(auth: ApiAuthService): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method === 'OPTIONS' || auth.isAuthorized(req.headers.authorization)) {
      return next();
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="Prefect API", charset="UTF-8"');
    res.status(401).json(UNAUTHORIZED_BODY);
  };
}
