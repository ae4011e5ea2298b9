import { RequestValidationError, ValidationIssue } from '../../common/errors/request-validation.error';
import { isTimestamp, normalizeTimestamp } from '../../common/time/timestamp';
import type { OrchestrationState, StateDetails } from '../orchestration.types';
import { makeState } from '../state-factory';
import type { StateCreateDto } from './state-create.dto';

const TIMESTAMP_DETAILS = ['scheduled_time', 'cache_expiration', 'pause_timeout'] as const;
const BOOL_DETAILS = [
  'deferred',
  'untrackable_result',
  'pause_reschedule',
  'refresh_cache',
  'retriable',
] as const;

/**
 * A proposed State from a StateCreate body, stamped `timestamp` (µs ISO). Validates and normalises the
 * datetime fields of `state_details`; bad ones fail with a 422 at `loc`.
 */
export function stateFromCreate(
  dto: StateCreateDto,
  timestamp: string,
  loc: (string | number)[] = ['body', 'state'],
): OrchestrationState {
  const details: StateDetails = { ...(dto.state_details ?? {}) };
  const issues: ValidationIssue[] = [];
  for (const key of TIMESTAMP_DETAILS) {
    const value = details[key];
    if (value == null) {
      continue;
    }
    if (!isTimestamp(value)) {
      issues.push({
        loc: [...loc, 'state_details', key],
        msg: 'Input should be a valid datetime',
        type: 'datetime_parsing',
        input: value,
      });
    } else {
      details[key] = normalizeTimestamp(value);
    }
  }
  for (const key of BOOL_DETAILS) {
    const value = details[key];
    if (value != null && typeof value !== 'boolean') {
      issues.push({
        loc: [...loc, 'state_details', key],
        msg: 'Input should be a valid boolean',
        type: 'bool_type',
        input: value,
      });
    }
  }
  if (issues.length) {
    throw new RequestValidationError(issues);
  }
  return makeState(
    { type: dto.type, name: dto.name, message: dto.message, data: dto.data, state_details: details },
    timestamp,
  );
}
