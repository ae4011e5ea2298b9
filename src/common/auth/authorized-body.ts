import type { IncomingMessage } from 'node:http';
import { ApiAuthService } from './api-auth.service';

export type BodyTypePredicate = (req: IncomingMessage) => boolean;

/**
 * Wraps a body parser's `type` predicate so that bodies of requests without valid credentials are never read
 * (the guard answers them 401): an unauthenticated client cannot make the server parse a 10 MB body.
 */
export function onlyIfAuthorized(auth: ApiAuthService, type: BodyTypePredicate): BodyTypePredicate {
  return (req) => type(req) && auth.isAuthorized(req.headers.authorization);
}
