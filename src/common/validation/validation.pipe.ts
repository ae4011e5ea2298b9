import { ValidationError, ValidationPipe, ValidationPipeOptions } from '@nestjs/common';
import { RequestValidationError, ValidationIssue } from '../errors/request-validation.error';
import { linearTransformerPackage } from './linear-transformer';
import { checkPlainBody, DEFAULT_MAX_OBJECT_KEYS, isJsonBody, PlainBodyLimits } from './plain-body-checks';

/** class-validator's default `min`/`max` texts ("offset must not be less than 0") in pydantic's words. */
const BOUND = /must not be (less|greater) than (-?[\d.]+)$/;

function pydanticWording(type: string, msg: string): { msg: string; type: string } {
  if (type === 'whitelistValidation') {
    return { msg, type: 'extra_forbidden' };
  }
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
    if (error.children?.length) {
      issues.push(...toIssues(error.children, loc));
    }
  }
  return issues;
}

/**
 * Nest's pipe with our checks of the plain value in place of its silent prototype-key stripping (which
 * deleted `constructor`/`__proto__` keys, so they were never reported as unknown): see `checkPlainBody`.
 * Transformation runs in linear time (`linearTransformerPackage`).
 */
export class AppValidationPipe extends ValidationPipe {
  constructor(
    options: ValidationPipeOptions,
    private readonly limits: PlainBodyLimits,
  ) {
    super(options);
  }

  /**
   * Nest closes the gaps of sparse arrays in place, walking the whole value on every request: a body parsed
   * from JSON text has none (JSON cannot write a gap), so its walk is skipped.
   */
  protected override closeArrayGaps(value: unknown): void {
    if (!isJsonBody(value)) {
      super.closeArrayGaps(value);
    }
  }

  /**
   * Nest looks for binary values (Buffers, typed arrays) under nested DTOs on every request. None can reach
   * this pipe: HTTP bodies are parsed from JSON text only (`configureApp` installs no raw or urlencoded
   * parser), route params and query values are strings, and no gateway validates its messages with it.
   */
  protected override findNestedBinaryValues(): ValidationError[] {
    return [];
  }

  protected override stripProtoKeys(value: unknown): void {
    const issues = checkPlainBody(value, this.limits);
    if (issues.length) {
      throw new RequestValidationError(issues);
    }
  }
}

/**
 * The global pipe: transforms bodies into DTO classes, forbids unknown keys (Prefect's action and filter
 * models do), and fails with `RequestValidationError` (→ 422).
 */
export function createValidationPipe(
  limits: PlainBodyLimits = { maxObjectKeys: DEFAULT_MAX_OBJECT_KEYS },
): ValidationPipe {
  return new AppValidationPipe(
    {
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: false,
      transformOptions: { enableImplicitConversion: false },
      transformerPackage: linearTransformerPackage,
      validationError: { target: false, value: true },
      exceptionFactory: (errors) => new RequestValidationError(toIssues(errors)),
    },
    limits,
  );
}
