import { isUUID } from 'class-validator';
import { isTimestamp } from '../common/time/timestamp';
import { isJsonBody } from '../common/validation/plain-body-checks';
import { taskInputsProblem } from '../orchestration/dto/wire-validators';
import { isStateType } from '../orchestration/states';
import type { CreateTaskRunDto, SetTaskRunStateDto } from './dto/task-runs.dto';

/**
 * Precompiled (hand-written) acceptors for the two hot write bodies, `TaskRunCreate` and the set_state body
 * (docs/performance.md, "Fourth round"). Each answers the parsed body itself, typed as its DTO, when the global
 * validation pipe would accept it **and** hand the service the same values; otherwise `undefined`, and the
 * request goes the framework's way (the pipe then writes the 422, so every refusal keeps its exact texts).
 *
 * So an acceptor may be stricter than the DTO but never looser. Each check is the very predicate the DTO's
 * decorator uses (class-validator's `isUUID(…, 'all')`, `isTimestamp`, `taskInputsProblem`, the state types),
 * any key the DTO does not declare is refused (the pipe's `forbidNonWhitelisted`, and the keys class-transformer
 * would drop), and only a body parsed from JSON text qualifies (`isJsonBody`). The text checks of
 * `checkPlainBody` (NUL, lone surrogates, reserved keys, wide objects) are the caller's.
 * Linear in the body's size: free-form values (`labels`, `task_inputs`, `data`…) are walked only as far as the
 * DTO's own checks walk them.
 */

type Plain = Record<string, unknown>;

const isObject = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);
/** `@IsOptional()`: null and undefined skip every other check. */
const absent = (v: unknown): v is null | undefined => v === null || v === undefined;
const optionalString = (v: unknown): boolean => absent(v) || typeof v === 'string';
const optionalUuid = (v: unknown): boolean => absent(v) || isUUID(v, 'all');

/** `@IsLabels()`: a dict of str → str/int/float/bool. */
function isLabels(v: unknown): boolean {
  if (!isObject(v)) {
    return false;
  }
  for (const key in v) {
    const t = typeof v[key];
    if (t !== 'string' && t !== 'number' && t !== 'boolean') {
      return false;
    }
  }
  return true;
}

/** `@IsArray() @IsString({ each: true })`. */
function isStringArray(v: unknown): boolean {
  if (!Array.isArray(v)) {
    return false;
  }
  for (const item of v) {
    if (typeof item !== 'string') {
      return false;
    }
  }
  return true;
}

/** A plain object as JSON.parse makes it (class-transformer copies these into DTO instances). */
function isParsedObject(v: unknown): v is Plain {
  return isObject(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** StateCreateDto: `type` one of the state types; `name`, `message` strings; `state_details` a dict; `data` anything. */
function acceptsState(state: unknown): boolean {
  if (!isParsedObject(state)) {
    return false;
  }
  for (const key in state) {
    const v = state[key];
    switch (key) {
      case 'type':
        if (!isStateType(v)) {
          return false;
        }
        break;
      case 'name':
      case 'message':
        if (!optionalString(v)) {
          return false;
        }
        break;
      case 'state_details':
        if (!absent(v) && !isObject(v)) {
          return false;
        }
        break;
      case 'data':
        break;
      default:
        return false;
    }
  }
  return isStateType(state.type);
}

/** The body as a CreateTaskRunDto when the framework path would accept it as it is, else undefined. */
export function acceptCreateBody(body: unknown): CreateTaskRunDto | undefined {
  if (!isParsedObject(body) || !isJsonBody(body)) {
    return undefined;
  }
  for (const key in body) {
    const v = body[key];
    let ok: boolean;
    switch (key) {
      case 'id':
      case 'flow_run_id':
        ok = optionalUuid(v);
        break;
      case 'task_key':
      case 'dynamic_key':
        ok = typeof v === 'string';
        break;
      case 'name':
      case 'cache_key':
      case 'task_version':
        ok = optionalString(v);
        break;
      case 'state':
        ok = absent(v) || acceptsState(v);
        break;
      case 'cache_expiration':
        ok = absent(v) || isTimestamp(v);
        break;
      case 'empirical_policy':
        ok = absent(v) || isObject(v);
        break;
      case 'tags':
        ok = absent(v) || isStringArray(v);
        break;
      case 'labels':
        ok = absent(v) || isLabels(v);
        break;
      case 'task_inputs':
        ok = absent(v) || taskInputsProblem(v) === undefined;
        break;
      default:
        ok = false;
    }
    if (!ok) {
      return undefined;
    }
  }
  if (typeof body.task_key !== 'string' || typeof body.dynamic_key !== 'string') {
    return undefined;
  }
  return body as unknown as CreateTaskRunDto;
}

/** The body as a SetTaskRunStateDto when the framework path would accept it as it is, else undefined. */
export function acceptSetStateBody(body: unknown): SetTaskRunStateDto | undefined {
  if (!isParsedObject(body) || !isJsonBody(body)) {
    return undefined;
  }
  for (const key in body) {
    const v = body[key];
    if (key === 'state') {
      if (!acceptsState(v)) {
        return undefined;
      }
    } else if (key !== 'force' || !(absent(v) || typeof v === 'boolean')) {
      return undefined;
    }
  }
  return body.state === undefined ? undefined : (body as unknown as SetTaskRunStateDto);
}
