import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  dataExceptionDetail,
  isDataException,
  isIntegrityError,
  isProgramLimitError,
  isRetryableDbError,
} from './db-errors';
import { DomainError, DomainErrorCode, ObjectNotFoundError } from './domain.error';
import { RequestValidationError, ValidationIssue } from './request-validation.error';

export const INTEGRITY_DETAIL =
  'Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details.';

export function statusFor(code: DomainErrorCode): HttpStatus {
  switch (code) {
    case 'NOT_FOUND':
      return HttpStatus.NOT_FOUND;
    case 'CONFLICT':
      return HttpStatus.CONFLICT;
    case 'INVALID':
      return HttpStatus.UNPROCESSABLE_ENTITY;
    case 'UNAUTHORIZED':
      return HttpStatus.UNAUTHORIZED;
    case 'FORBIDDEN':
      return HttpStatus.FORBIDDEN;
    case 'TOO_MANY_REQUESTS':
      return HttpStatus.TOO_MANY_REQUESTS;
    case 'UNAVAILABLE':
      return HttpStatus.SERVICE_UNAVAILABLE;
  }
}

interface ErrorResponse {
  status: number;
  body: unknown;
  headers?: Readonly<Record<string, string>>;
}

/** The 422 body of FastAPI, which Prefect clients parse. */
export function validationBody(issues: ValidationIssue[], requestBody: unknown): unknown {
  return {
    exception_message: 'Invalid request received.',
    exception_detail: issues,
    request_body: requestBody ?? null,
  };
}

/**
 * Maps every error to Prefect's error bodies (docs/reference.md §0): validation → 422, domain errors by code, database
 * integrity errors → 409, database outages → 503, anything else → 500 without internals (logged once).
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') {
      return;
    }
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const { status, body, headers } = this.toResponse(error, req);
    if (res.headersSent) {
      return;
    }
    for (const [name, value] of Object.entries(headers ?? {})) {
      res.setHeader(name, value);
    }
    res.status(status).json(body);
  }

  toResponse(error: unknown, req: Request): ErrorResponse {
    // A validation error thrown from body-parser's `verify` hook reaches us wrapped by the express adapter.
    if (error instanceof HttpException && error.cause instanceof RequestValidationError) {
      error = error.cause;
    }
    if (error instanceof RequestValidationError) {
      return { status: 422, body: validationBody(error.issues, req.body) };
    }
    if (error instanceof DomainError) {
      const status = statusFor(error.code);
      // Upstream answers these two with `exception_message` (its middleware), the rest with `detail`.
      const body =
        error.code === 'UNAVAILABLE' || error.code === 'UNAUTHORIZED' || error instanceof ObjectNotFoundError
          ? { exception_message: error.message }
          : { detail: error.message };
      return { status, body, headers: error.headers };
    }
    // body-parser errors reach us raw or wrapped by the express adapter (as `cause`).
    const cause =
      error instanceof HttpException ? (error.cause as { type?: unknown } | undefined) : undefined;
    const parserType = cause?.type ?? (error as { type?: unknown } | null)?.type;
    if (parserType === 'entity.parse.failed') {
      return {
        status: 422,
        body: validationBody([{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }], null),
      };
    }
    if (parserType === 'entity.too.large') {
      return { status: 413, body: { detail: 'Request body too large.' } };
    }
    if (error instanceof HttpException) {
      return this.fromHttpException(error);
    }
    if (isIntegrityError(error)) {
      this.logger.warn({ msg: 'integrity conflict', error: (error as Error).message });
      return { status: 409, body: { detail: INTEGRITY_DETAIL } };
    }
    if (isProgramLimitError(error)) {
      this.logger.warn({ msg: 'value too large for the database', error: (error as Error).message });
      return { status: 422, body: { detail: 'Invalid request: a value is too large to store.' } };
    }
    if (isDataException(error)) {
      this.logger.warn({ msg: 'invalid value for the database', error: (error as Error).message });
      return { status: 422, body: { detail: dataExceptionDetail(error) } };
    }
    if (isRetryableDbError(error)) {
      this.logger.warn({ msg: 'database unavailable', error: (error as Error).message });
      return { status: 503, body: { exception_message: 'Service Unavailable' } };
    }
    this.logger.error({
      msg: 'unhandled error',
      method: req.method,
      path: req.path,
      error: error instanceof Error ? error.stack : String(error),
    });
    return { status: 500, body: { exception_message: 'Internal Server Error' } };
  }

  private fromHttpException(error: HttpException): ErrorResponse {
    const status = error.getStatus();
    const response = error.getResponse();
    let detail: unknown = error.message;
    if (typeof response === 'string') {
      detail = response;
    } else if (response && typeof response === 'object' && 'message' in response) {
      detail = response.message;
    }
    if (status === 404 && typeof detail === 'string' && detail.startsWith('Cannot ')) {
      detail = 'Not Found';
    }
    return { status, body: { detail } };
  }
}
