/**
 * class-transformer's `plainToInstance`, in linear time and without silent drops. Two changes to its
 * executor, nothing else:
 *
 * 1. Key selection (`getKeys`) de-duplicates the keys of every object with `Array#indexOf`, which is
 *    quadratic: one object with 150k keys blocked the process for 12 s. Here only the keys a DTO class
 *    declares reach the library's selection (a handful); unknown keys are left out and reported as
 *    unknown (422) by `keysDroppedByTransform`, as class-validator's whitelist would.
 * 2. Free-form values (a property with no `@Type`: `labels`, `parameters`, `task_inputs`…) are kept as
 *    parsed instead of being copied key by key: the copy skipped keys such as `toString` or `valueOf`
 *    (they name functions of `{}`), so `{"toString": "x"}` silently became `{}`.
 *
 * See docs/operating.md ("Limits and timeouts").
 */
import type { TransformerPackage } from '@nestjs/common/interfaces/external/transformer-package.interface';
import { ClassTransformOptions, instanceToPlain, TransformationType } from 'class-transformer';
import { getMetadataStorage } from 'class-validator';
import { RequestValidationError, ValidationIssue } from '../errors/request-validation.error';

type Executor = {
  options: ClassTransformOptions;
  transform(
    source: unknown,
    value: unknown,
    targetType: unknown,
    arrayType: unknown,
    isMap: boolean | undefined,
    level?: number,
  ): unknown;
  getKeys(target: unknown, object: Record<string, unknown>, isMap: boolean): string[];
};
type ExecutorCtor = new (type: TransformationType, options: ClassTransformOptions) => Executor;
type MetadataStorage = {
  findExposeMetadata(target: unknown, propertyName: string): unknown;
  findExcludeMetadata(target: unknown, propertyName: string): unknown;
};

// The executor and the metadata storage are not exported from the package root.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { TransformOperationExecutor } = require('class-transformer/cjs/TransformOperationExecutor') as {
  TransformOperationExecutor: ExecutorCtor;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: MetadataStorage;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultOptions } = require('class-transformer/cjs/constants/default-options.constant') as {
  defaultOptions: ClassTransformOptions;
};

const declaredCache = new WeakMap<object, ReadonlySet<string>>();

/** The properties a DTO class declares validation rules for (its own and inherited). */
function declaredProperties(target: object): ReadonlySet<string> {
  let names = declaredCache.get(target);
  if (!names) {
    const metadata = getMetadataStorage().getTargetValidationMetadatas(
      target as new () => unknown,
      '',
      true,
      false,
    );
    names = new Set(metadata.map((m) => m.propertyName));
    declaredCache.set(target, names);
  }
  return names;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return false;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

class LinearTransformOperationExecutor extends TransformOperationExecutor {
  override transform(
    source: unknown,
    value: unknown,
    targetType: unknown,
    arrayType: unknown,
    isMap: boolean | undefined,
    level = 0,
  ): unknown {
    if (!isMap && (targetType === undefined || targetType === Object) && isPlainObject(value)) {
      return value;
    }
    return super.transform(source, value, targetType, arrayType, isMap, level);
  }

  override getKeys(target: unknown, object: Record<string, unknown>, isMap: boolean): string[] {
    if (isMap || object instanceof Map || typeof target !== 'function' || target === Object) {
      return super.getKeys(target, object, isMap);
    }
    // Only keys the class declares (or has transformer metadata for) are copied; the library's selection
    // then runs on a handful of keys. Unknown keys are left out here and reported by keysDroppedByTransform.
    const declared = declaredProperties(target);
    const known: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      if (
        declared.has(key) ||
        defaultMetadataStorage.findExposeMetadata(target, key) ||
        defaultMetadataStorage.findExcludeMetadata(target, key)
      ) {
        known[key] = object[key];
      }
    }
    return super.getKeys(target, known, isMap);
  }
}

/**
 * Keys of a typed (DTO) object that the transformation left out of its instance: class-transformer skips
 * keys that name a function of the instance (`toString`, `valueOf`, `hasOwnProperty`…), so class-validator's
 * whitelist never sees them. They are unknown keys like any other: 422. Linear: free-form values are the
 * parsed objects themselves and are not walked.
 */
export function keysDroppedByTransform(
  plain: unknown,
  instance: unknown,
  root: (string | number)[] = ['body'],
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const stack: { plain: unknown; instance: unknown; loc: (string | number)[] }[] = [
    { plain, instance, loc: root },
  ];
  while (stack.length && issues.length < 20) {
    const pair = stack.pop()!;
    if (pair.plain === pair.instance) {
      continue;
    } // free-form, kept as parsed
    if (Array.isArray(pair.plain) && Array.isArray(pair.instance)) {
      pair.plain.forEach((item, i) => {
        if (item !== null && typeof item === 'object') {
          stack.push({ plain: item, instance: (pair.instance as unknown[])[i], loc: [...pair.loc, i] });
        }
      });
      continue;
    }
    if (!isPlainObject(pair.plain) || pair.instance === null || typeof pair.instance !== 'object') {
      continue;
    }
    if (isPlainObject(pair.instance)) {
      continue;
    }
    const inst = pair.instance as Record<string, unknown>;
    for (const [key, value] of Object.entries(pair.plain)) {
      if (issues.length >= 20) {
        break;
      } // the first 20 say what is wrong; a hostile body gets no bigger answer
      if (!Object.prototype.hasOwnProperty.call(inst, key)) {
        if (value !== undefined) {
          issues.push({
            loc: [...pair.loc, key],
            msg: `property ${key} should not exist`,
            type: 'extra_forbidden',
            input: value,
          });
        }
      } else if (value !== null && typeof value === 'object' && inst[key] !== value) {
        stack.push({ plain: value, instance: inst[key], loc: [...pair.loc, key] });
      }
    }
  }
  return issues;
}

export function linearPlainToInstance<T>(
  cls: new (...args: never[]) => T,
  plain: unknown,
  options?: ClassTransformOptions,
): T | T[] {
  const executor = new LinearTransformOperationExecutor(TransformationType.PLAIN_TO_CLASS, {
    ...defaultOptions,
    ...options,
  });
  const instance = executor.transform(undefined, plain, cls, undefined, undefined, undefined) as T | T[];
  const dropped = keysDroppedByTransform(plain, instance);
  if (dropped.length) {
    throw new RequestValidationError(dropped);
  }
  return instance;
}

/** For `ValidationPipe({ transformerPackage })`. */
export const linearTransformerPackage: TransformerPackage = {
  plainToInstance: linearPlainToInstance,
  classToPlain: instanceToPlain as TransformerPackage['classToPlain'],
};
