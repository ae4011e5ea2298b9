import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = Symbol('is-public');

/**
 * Marks a route (or a controller) as open even when `PREFECT_SERVER_API_AUTH_STRING` is set. Only the probes
 * (`/api/health`, `/api/ready`) use it, as upstream does.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);
