import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { UnauthorizedError } from '../errors/domain.error';
import { ApiAuthService } from './api-auth.service';
import { IS_PUBLIC_KEY } from './public.decorator';

/**
 * The global guard (APP_GUARD): with an auth string set, every HTTP route needs it unless marked `@Public()`.
 * Websocket gateways authenticate in their `auth` message instead (`prefectHandshake`), so they pass here.
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  constructor(
    private readonly auth: ApiAuthService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || !this.auth.enabled) {
      return true;
    }
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) {
      return true;
    }
    const req = context.switchToHttp().getRequest<Request>();
    if (this.auth.isAuthorized(req.headers.authorization)) {
      return true;
    }
    throw new UnauthorizedError();
  }
}
