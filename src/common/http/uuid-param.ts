import { ParseUUIDPipe } from '@nestjs/common';
import { NotFoundError } from '../errors/domain.error';

/**
 * For `{id:uuid}` path params: in Prefect a non-UUID id matches no route, so it answers 404 `Not Found`,
 * not 422. Use as `@Param('id', uuidParam)`.
 */
export const uuidParam = new ParseUUIDPipe({
  version: undefined,
  exceptionFactory: () => new NotFoundError('Not Found'),
});
