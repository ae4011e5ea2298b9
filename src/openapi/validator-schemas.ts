import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

/**
 * Request schemas derived from the class-validator decorators the DTOs already carry, so a DTO states each
 * rule once (for validation) and the OpenAPI document follows it. Every class known to class-validator gets
 * the static `_OPENAPI_METADATA_FACTORY` that @nestjs/swagger reads (the hook its compile-time plugin uses),
 * so body and query DTOs, nested classes included, come out with real properties. Explicit `@ApiProperty`
 * decorators still win over what is derived here.
 */

/** The description that marks a property as any JSON value (the document drops its `type`). */
export const ANY_JSON = 'Any JSON value';

/** The static @nestjs/swagger calls for plugin-style metadata (`METADATA_FACTORY_NAME`). */
const METADATA_FACTORY = '_OPENAPI_METADATA_FACTORY';

type Ctor = abstract new (...args: never[]) => unknown;
/** Swagger property options (ApiPropertyOptions), kept loose: they are data here, read by swagger at run time. */
type PropertyOptions = Record<string, unknown>;

/** What the wire validators (src/orchestration/dto/wire-validators.ts) and Prefect's `Name` accept. */
const CUSTOM: Record<string, (each: boolean) => PropertyOptions> = {
  datetime_parsing: () => ({ type: 'string', format: 'date-time' }),
  dict_type: () => ({ type: 'object', additionalProperties: true }),
  labels: () => ({
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  }),
  value_error: () => ({ type: 'string', pattern: '^[^/%&><]*$' }),
  // IsTaskInputs: a map of lists of typed input references (docs/reference.md §1.1).
  task_inputs: () => ({
    type: 'object',
    additionalProperties: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          input_type: { type: 'string', enum: ['task_run', 'flow_run', 'parameter', 'constant'] },
          id: { type: 'string', format: 'uuid' },
          name: { type: 'string' },
          type: { type: 'string' },
        },
      },
    },
  }),
};

function typeOf(meta: ValidationMetadata): PropertyOptions | undefined {
  const name = meta.name ?? '';
  switch (name) {
    case 'isString':
      return { type: 'string' };
    case 'isUuid':
      return { type: 'string', format: 'uuid' };
    case 'isInt':
      return { type: 'integer' };
    case 'isNumber':
      return { type: 'number' };
    case 'isBoolean':
      return { type: 'boolean' };
    case 'isIn':
      return { type: 'string', enum: [...(meta.constraints[0] as string[])] };
    default:
      return CUSTOM[name]?.(!!meta.each);
  }
}

/** The swagger property options for one DTO property, from its validation metadata. */
function propertyOptions(target: Ctor, property: string, metas: ValidationMetadata[]): PropertyOptions {
  const optional = metas.some((m) => m.type === 'conditionalValidation' && m.name === 'isOptional');
  const isArray = metas.some((m) => m.name === 'isArray');
  const nested = metas.some((m) => m.type === 'nestedValidation');
  let value: PropertyOptions = {};
  let item: PropertyOptions | undefined;
  for (const meta of metas) {
    const t = typeOf(meta);
    if (t) {
      if (meta.each) {
        item = { ...item, ...t };
      } else {
        value = { ...value, ...t };
      }
    }
    if (meta.name === 'min') {
      value.minimum = meta.constraints[0] as number;
    }
    if (meta.name === 'max') {
      value.maximum = meta.constraints[0] as number;
    }
    if (meta.name === 'isNotEmpty') {
      value.minLength = 1;
    }
  }
  const options: PropertyOptions = { required: !optional };
  if (optional) {
    options.nullable = true;
  }
  if (nested) {
    const typeMeta = defaultMetadataStorage.findTypeMetadata(target, property);
    const nestedType = typeMeta?.typeFunction() as Ctor | undefined;
    if (nestedType) {
      return { ...options, type: () => nestedType, isArray };
    }
  }
  if (isArray) {
    return { ...options, type: 'array', items: { ...(item ?? {}) } };
  }
  if (value.type === undefined && value.enum === undefined) {
    // No type-level validator (e.g. a state's `data`): any JSON value.
    return { ...options, type: 'object', description: `${ANY_JSON}.` };
  }
  return { ...options, ...value };
}

/** Group a class's own validation metadata by property (inherited properties come from the parent's factory). */
function ownProperties(target: Ctor): Map<string, ValidationMetadata[]> {
  const byProperty = new Map<string, ValidationMetadata[]>();
  const all = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
  for (const meta of all) {
    if (meta.target !== target) {
      continue;
    }
    const list = byProperty.get(meta.propertyName) ?? [];
    list.push(meta);
    byProperty.set(meta.propertyName, list);
  }
  return byProperty;
}

/** Every class that carries class-validator decorators (the storage is filled as DTO modules are imported). */
function validatedClasses(): Ctor[] {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<Ctor, unknown> };
  return [...storage.validationMetadatas.keys()].filter((t): t is Ctor => typeof t === 'function');
}

/** Install the derived schema factory on every validated class. Idempotent. */
export function deriveRequestSchemas(): void {
  for (const target of validatedClasses()) {
    if (Object.prototype.hasOwnProperty.call(target, METADATA_FACTORY)) {
      continue;
    }
    const properties = ownProperties(target);
    const metadata: Record<string, PropertyOptions> = {};
    for (const [property, metas] of properties) {
      metadata[property] = propertyOptions(target, property, metas);
    }
    Object.defineProperty(target, METADATA_FACTORY, { value: () => metadata, enumerable: false });
  }
}
