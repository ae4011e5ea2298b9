/**
 * Errors that services throw. They carry a code, never an HTTP status: `DomainErrorFilter` maps codes to
 * statuses in one exhaustive switch, so workers and gateways can share the same services.
 */
export type DomainErrorCode =
  'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'TOO_MANY_REQUESTS' | 'UNAVAILABLE';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** Extra response headers, e.g. `Retry-After` for TOO_MANY_REQUESTS. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** A request that is well-formed but not acceptable (422 `{"detail": …}`). */
export class InvalidRequestError extends DomainError {
  constructor(message: string) {
    super('INVALID', message);
  }
}

export class TooManyRequestsError extends DomainError {
  constructor(message: string, retryAfterSeconds: number) {
    super('TOO_MANY_REQUESTS', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

export class ServiceUnavailableError extends DomainError {
  constructor(message = 'Service Unavailable') {
    super('UNAVAILABLE', message);
  }
}

/**
 * Prefect's `ObjectNotFoundError`: 404 with `{"exception_message": …}` (docs/reference.md §0), unlike an HTTPException's
 * `{"detail": …}`. Used e.g. by set_state on a missing run.
 */
export class ObjectNotFoundError extends DomainError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** Missing or wrong credentials (401 `{"exception_message": "Unauthorized"}`, as upstream's auth middleware). */
export class UnauthorizedError extends DomainError {
  constructor(message = 'Unauthorized') {
    super('UNAUTHORIZED', message);
  }
}
