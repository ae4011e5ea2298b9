import { ValidateBy, ValidationOptions } from 'class-validator';
import { isTimestamp } from '../../common/time/timestamp';

/** An ISO-8601 datetime (Z, offset or naive=UTC), as Prefect accepts. */
export function IsWireTimestamp(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'datetime_parsing',
      validator: {
        validate: (value) => isTimestamp(value),
        defaultMessage: () => 'Input should be a valid datetime',
      },
    },
    options,
  );
}

/** A plain JSON object (not an array, not null). */
export function IsJsonObject(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'dict_type',
      validator: {
        validate: (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
        defaultMessage: () => 'Input should be a valid dictionary',
      },
    },
    options,
  );
}

/** `labels`: a dict of str → str/int/float/bool. */
export function IsLabels(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'labels',
      validator: {
        validate: (value) =>
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.values(value as Record<string, unknown>).every((v) =>
            ['string', 'number', 'boolean'].includes(typeof v),
          ),
        defaultMessage: () => 'Input should be a dictionary of str to str, int, float or bool',
      },
    },
    options,
  );
}
