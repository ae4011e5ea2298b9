import { ValidationError, ValidationPipe } from '@nestjs/common';
import { RequestValidationError, ValidationIssue } from '../errors/request-validation.error';

/** Flattens class-validator's tree into FastAPI-style issues (`loc` from the body root). */
export function toIssues(errors: ValidationError[], root: (string | number)[] = ['body']): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const error of errors) {
    const key = /^\d+$/.test(error.property) ? Number(error.property) : error.property;
    const loc = [...root, key];
    for (const [type, msg] of Object.entries(error.constraints ?? {})) {
      issues.push({
        loc,
        msg,
        type: type === 'whitelistValidation' ? 'extra_forbidden' : type,
        input: error.value,
      });
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
