import { ValidationError, ValidationPipe } from '@nestjs/common';
import { RequestValidationError, ValidationIssue } from '../errors/request-validation.error';

/** class-validator's default `min`/`max` texts ("offset must not be less than 0") in pydantic's words. */
const BOUND = /must not be (less|greater) than (-?[\d.]+)$/;

function pydanticWording(type: string, msg: string): { msg: string; type: string } {
  if (type === 'whitelistValidation') return { msg, type: 'extra_forbidden' };
  if (type === 'min' || type === 'max') {
    const bound = BOUND.exec(msg);
    const limit = bound?.[2];
    if (type === 'min') {
      return {
        msg: limit ? `Input should be greater than or equal to ${limit}` : msg,
        type: 'greater_than_equal',
      };
    }
    return { msg: limit ? `Input should be less than or equal to ${limit}` : msg, type: 'less_than_equal' };
  }
  return { msg, type };
}

/** Flattens class-validator's tree into FastAPI-style issues (`loc` from the body root). */
export function toIssues(errors: ValidationError[], root: (string | number)[] = ['body']): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const error of errors) {
    const key = /^\d+$/.test(error.property) ? Number(error.property) : error.property;
    const loc = [...root, key];
    for (const [type, msg] of Object.entries(error.constraints ?? {})) {
      issues.push({ loc, ...pydanticWording(type, msg), input: error.value });
    }
    if (error.children?.length) issues.push(...toIssues(error.children, loc));
  }
  return issues;
}

/**
 * The global pipe: transforms bodies into DTO classes, forbids unknown keys (Prefect's action and filter
 * models do), and fails with `RequestValidationError` (→ 422).
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: false,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => new RequestValidationError(toIssues(errors)),
  });
}
