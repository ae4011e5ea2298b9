import { InvalidRequestError } from '../common/errors/domain.error';

/**
 * Prefect's `LimitBody`: a missing or null limit means the default (`PREFECT_SERVER_API_DEFAULT_LIMIT`), which
 * is also the maximum; negative or larger → 422 with Prefect's text.
 */
export function resolveLimit(limit: number | null | undefined, defaultLimit: number): number {
  const value = limit ?? defaultLimit;
  if (value < 0) {
    throw new InvalidRequestError('Invalid limit: must be greater than or equal to 0.');
  }
  if (value > defaultLimit) {
    throw new InvalidRequestError(`Invalid limit: must be less than or equal to ${defaultLimit}.`);
  }
  return value;
}
