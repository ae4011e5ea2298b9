import { ParseUUIDPipe } from '@nestjs/common';
import { NotFoundError } from '../errors/domain.error';

/** ParseUUIDPipe whose check can also be asked without a pipe call (and its promise). */
export class UuidParamPipe extends ParseUUIDPipe {
  /** Whether `transform` would let `value` through (the same check, synchronously). */
  accepts(value: string): boolean {
    return this.isUUID(value, this.options?.version);
  }
}

/**
 * For `{id:uuid}` path params: in Prefect a non-UUID id matches no route, so it answers 404 `Not Found`,
 * not 422. Use as `@Param('id', uuidParam)`; `uuidParam.accepts(id)` is the same check for handlers outside
 * the Nest router (src/task-runs/task-run-writes.middleware.ts).
 */
export const uuidParam = new UuidParamPipe({
  version: undefined,
  exceptionFactory: () => new NotFoundError('Not Found'),
});
