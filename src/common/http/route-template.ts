import type { Request } from 'express';

/** The `route` label of a request that matched no route (404s, rejected before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route template of a request (`/api/task_runs/:id`), never its raw URL: label values stay bounded.
 * Express sets `req.route` once a route matched; anything else (no route, refused by the body parser before
 * routing, Nest's catch-all 404) is `unmatched`.
 */
export function routeTemplate(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  // No route, or Nest's catch-all not-found route (`/api*path`).
  if (typeof path !== 'string' || path.includes('*')) {
    return UNMATCHED_ROUTE;
  }
  return `${req.baseUrl}${path}`;
}
