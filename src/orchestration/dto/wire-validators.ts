import { ValidateBy, ValidationOptions } from 'class-validator';
import { isTimestamp } from '../../common/time/timestamp';
import { isUuid } from '../../common/validation/uuid';

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

const isNonEmptyObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What is wrong with one `task_inputs` reference, or undefined when it is one of Prefect's typed inputs:
 * `{input_type: "task_run" | "flow_run", id: UUID}`, `{input_type: "parameter", name: str}`,
 * `{input_type: "constant", type: str}`. As in Prefect, `input_type` may be left out when the other field
 * says which one it is, and other keys are ignored.
 */
export function taskInputReferenceProblem(ref: unknown): string | undefined {
  if (!isNonEmptyObject(ref)) {
    return 'Input should be an object (a task run input reference)';
  }
  const kind = ref.input_type;
  const needs: Record<string, [string, (v: unknown) => boolean, string]> = {
    task_run: ['id', (v) => isUuid(v), 'a UUID'],
    flow_run: ['id', (v) => isUuid(v), 'a UUID'],
    parameter: ['name', (v) => typeof v === 'string', 'a string'],
    constant: ['type', (v) => typeof v === 'string', 'a string'],
  };
  if (kind === undefined) {
    const match = ['task_run', 'parameter', 'constant'].some((k) => needs[k][1](ref[needs[k][0]]));
    return match ? undefined : 'Input should be a task_run, flow_run, parameter or constant reference';
  }
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(needs, kind)) {
    return "input_type should be 'task_run', 'flow_run', 'parameter' or 'constant'";
  }
  const [field, ok, what] = needs[kind];
  return ok(ref[field]) ? undefined : `A ${kind} input needs \`${field}\` as ${what}`;
}

/** The first problem of a `task_inputs` value, with its path, or undefined when it is valid. */
export function taskInputsProblem(value: unknown): string | undefined {
  if (!isNonEmptyObject(value)) {
    return 'Input should be a dictionary of parameter name to a list of inputs';
  }
  for (const [name, refs] of Object.entries(value)) {
    if (!Array.isArray(refs)) {
      return `${name}: Input should be a list of task run input references`;
    }
    for (let i = 0; i < refs.length; i++) {
      const problem = taskInputReferenceProblem(refs[i]);
      if (problem) {
        return `${name}[${i}]: ${problem}`;
      }
    }
  }
  return undefined;
}

/** `task_inputs`: a dict of parameter name → list of Prefect's typed input references. */
export function IsTaskInputs(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'task_inputs',
      validator: {
        validate: (value) => taskInputsProblem(value) === undefined,
        defaultMessage: (args) => taskInputsProblem(args?.value) ?? 'Invalid task_inputs',
      },
    },
    options,
  );
}

/** A filter section (`flows`, `flow_runs`, `task_runs`, `deployments`): an object, never a list. */
export function IsFilterObject(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'model_type',
      validator: {
        validate: (value) => isNonEmptyObject(value),
        defaultMessage: () => 'Input should be a valid dictionary or object to extract fields from',
      },
    },
    options,
  );
}
