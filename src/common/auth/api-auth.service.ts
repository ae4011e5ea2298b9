import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { secretsEqual } from '../websocket/prefect-socket';

/** The body upstream answers a missing or wrong `Authorization` header with (status 401). */
export const UNAUTHORIZED_BODY = { exception_message: 'Unauthorized' } as const;

/**
 * Decodes `Authorization: Basic <base64>` into the credentials string, as upstream's `token_validation`
 * middleware does: exactly two space-separated parts, scheme `Basic`, strict base64 that decodes to UTF-8.
 * Returns undefined for anything else.
 */
export function decodeBasicCredentials(header: string | undefined): string | undefined {
  if (header === undefined) {
    return undefined;
  }
  const parts = header.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] !== 'Basic') {
    return undefined;
  }
  const encoded = parts[1];
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    return undefined;
  }
  const bytes = Buffer.from(encoded, 'base64');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * HTTP authentication with `PREFECT_SERVER_API_AUTH_STRING` (docs/reference.md, beyond upstream 5). Prefect clients send
 * `Authorization: Basic base64(auth_string)` (so an auth string `user:pass` is ordinary basic auth, which
 * browsers and Prometheus can send too). The comparison is constant-time.
 */
@Injectable()
export class ApiAuthService {
  constructor(private readonly config: AppConfig) {}

  /** Whether an auth string is configured at all. */
  get enabled(): boolean {
    return !!this.config.api.authString;
  }

  /** Whether a request with this `Authorization` header may pass. */
  isAuthorized(authorization: string | undefined): boolean {
    const expected = this.config.api.authString;
    if (!expected) {
      return true;
    }
    const given = decodeBasicCredentials(authorization);
    return given !== undefined && secretsEqual(given, expected);
  }
}
