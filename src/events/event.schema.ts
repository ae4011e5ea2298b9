import { ValidationIssue } from '../common/errors/request-validation.error';
import { InvalidTimestampError, normalizeTimestamp, Timestamp } from '../common/time/timestamp';
import { isUuid } from '../common/validation/uuid';
import { PrefectEvent, ReceivedEvent, RelatedResource, Resource } from './event.types';

/** The limits of docs/reference.md §6, from `config.events.*`. */
export interface EventLimits {
  maximumLabelsPerResource: number;
  maximumRelatedResources: number;
  maximumSizeBytes: number;
  maximumEventNameLength: number;
}

export const RESOURCE_ID = 'prefect.resource.id';
export const RESOURCE_ROLE = 'prefect.resource.role';

type Loc = (string | number)[];

/** The outcome of validating one event: the event, or FastAPI-shaped issues (locations under `loc`). */
export type EventParseResult =
  { event: PrefectEvent; issues?: undefined } | { event?: undefined; issues: ValidationIssue[] };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseUuid(value: unknown, loc: Loc, issues: ValidationIssue[]): string | undefined {
  if (isUuid(value)) {
    return value.toLowerCase();
  }
  issues.push({ loc, msg: 'Input should be a valid UUID', type: 'uuid_parsing', input: value });
  return undefined;
}

/** A wire datetime normalised to µs UTC, or undefined with a `datetime_parsing` issue (events and event filters). */
export function parseTimestamp(value: unknown, loc: Loc, issues: ValidationIssue[]): Timestamp | undefined {
  if (typeof value === 'string') {
    try {
      return normalizeTimestamp(value);
    } catch (err) {
      if (!(err instanceof InvalidTimestampError)) {
        throw err;
      }
    }
  }
  issues.push({ loc, msg: 'Input should be a valid datetime', type: 'datetime_parsing', input: value });
  return undefined;
}

function parseLabels(
  value: unknown,
  loc: Loc,
  issues: ValidationIssue[],
  limits: EventLimits,
  related: boolean,
): Record<string, string> | undefined {
  if (!isPlainObject(value)) {
    issues.push({ loc, msg: 'Input should be a valid dictionary', type: 'dict_type', input: value });
    return undefined;
  }
  const before = issues.length;
  const keys = Object.keys(value);
  for (const key of keys) {
    if (typeof value[key] !== 'string') {
      issues.push({
        loc: [...loc, key],
        msg: 'Input should be a valid string',
        type: 'string_type',
        input: value[key],
      });
    }
  }
  if (issues.length > before) {
    return undefined;
  }
  const labels = value as Record<string, string>;
  if (keys.length > limits.maximumLabelsPerResource) {
    issues.push({
      loc,
      msg: `Value error, The maximum number of labels per resource is ${limits.maximumLabelsPerResource}`,
      type: 'value_error',
    });
  }
  if (!(RESOURCE_ID in labels)) {
    issues.push({
      loc,
      msg: `Value error, Resources must include the ${RESOURCE_ID} label`,
      type: 'value_error',
    });
  } else if (!labels[RESOURCE_ID]) {
    issues.push({ loc, msg: `Value error, The ${RESOURCE_ID} label must be non-empty`, type: 'value_error' });
  }
  if (related) {
    if (!(RESOURCE_ROLE in labels)) {
      issues.push({
        loc,
        msg: `Value error, Related Resources must include the ${RESOURCE_ROLE} label`,
        type: 'value_error',
      });
    } else if (!labels[RESOURCE_ROLE]) {
      issues.push({
        loc,
        msg: `Value error, The ${RESOURCE_ROLE} label must be non-empty`,
        type: 'value_error',
      });
    }
  }
  return issues.length > before ? undefined : labels;
}

/** 'YYYY-MM-DDTHH:MM:SS' of the last event timestamp that was already canonical (see `eventTimestamp`). */
let lastCanonicalSecond = '';

/** Whether `value` has the canonical shape `<19 chars>.dddddd` + `Z`. */
function hasCanonicalShape(value: string): boolean {
  if (value.length !== 27 || value.charCodeAt(19) !== 0x2e || value.charCodeAt(26) !== 0x5a) {
    return false;
  }
  for (let i = 20; i < 26; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) {
      return false;
    }
  }
  return true;
}

/**
 * `parseTimestamp` with a shortcut for the common case (docs/events.md, "Storing the request's own bytes"):
 * events arrive in bursts stamped within the same second, already canonical. Once a canonical timestamp's
 * first 19 characters (date and time to the second) have been checked to normalise to themselves, any
 * string with those 19 characters followed by `.`, six digits and `Z` normalises to itself too (the same
 * second plus 0–999 999 µs), so it is returned as is.
 */
function eventTimestamp(value: unknown, loc: Loc, issues: ValidationIssue[]): Timestamp | undefined {
  if (typeof value === 'string' && hasCanonicalShape(value)) {
    if (lastCanonicalSecond !== '' && value.startsWith(lastCanonicalSecond)) {
      return value;
    }
    const normalised = parseTimestamp(value, loc, issues);
    if (normalised === value) {
      lastCanonicalSecond = value.slice(0, 19);
    }
    return normalised;
  }
  return parseTimestamp(value, loc, issues);
}

/**
 * Validates one client event against docs/reference.md §6 (required fields, label and related limits, name length,
 * size). Extra keys are ignored, timestamps normalised to µs UTC, ids lower-cased. `loc` prefixes the issue
 * locations (e.g. `['body', 3]`). `sizeFits`: the caller knows the event's JSON.stringify is within the size
 * limit (e.g. its raw text is no longer, see raw-event-array.ts), so it is not serialised to measure it.
 */
export function parseEvent(
  raw: unknown,
  limits: EventLimits,
  loc: Loc = [],
  sizeFits = false,
): EventParseResult {
  const issues: ValidationIssue[] = [];
  if (!isPlainObject(raw)) {
    return {
      issues: [
        {
          loc,
          msg: 'Input should be a valid dictionary or instance of Event',
          type: 'model_type',
          input: raw,
        },
      ],
    };
  }
  const size = sizeFits ? 0 : Buffer.byteLength(JSON.stringify(raw), 'utf8');
  if (size > limits.maximumSizeBytes) {
    return {
      issues: [
        {
          loc,
          msg: `Event is too large: ${size} bytes exceeds the maximum of ${limits.maximumSizeBytes} bytes (PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES)`,
          type: 'too_large',
        },
      ],
    };
  }
  const missing = (key: string): void => {
    issues.push({ loc: [...loc, key], msg: 'Field required', type: 'missing' });
  };

  const id = raw.id === undefined ? (missing('id'), undefined) : parseUuid(raw.id, [...loc, 'id'], issues);
  const occurred =
    raw.occurred === undefined
      ? (missing('occurred'), undefined)
      : eventTimestamp(raw.occurred, [...loc, 'occurred'], issues);

  let event: string | undefined;
  if (raw.event === undefined) {
    missing('event');
  } else if (typeof raw.event !== 'string') {
    issues.push({
      loc: [...loc, 'event'],
      msg: 'Input should be a valid string',
      type: 'string_type',
      input: raw.event,
    });
  } else if (raw.event.length > limits.maximumEventNameLength) {
    issues.push({
      loc: [...loc, 'event'],
      msg: `String should have at most ${limits.maximumEventNameLength} characters`,
      type: 'string_too_long',
    });
  } else {
    event = raw.event;
  }

  const resource: Resource | undefined =
    raw.resource === undefined
      ? (missing('resource'), undefined)
      : parseLabels(raw.resource, [...loc, 'resource'], issues, limits, false);

  let related: RelatedResource[] = [];
  if (raw.related !== undefined && raw.related !== null) {
    if (!Array.isArray(raw.related)) {
      issues.push({
        loc: [...loc, 'related'],
        msg: 'Input should be a valid list',
        type: 'list_type',
        input: raw.related,
      });
    } else if (raw.related.length > limits.maximumRelatedResources) {
      issues.push({
        loc: [...loc, 'related'],
        msg: `Value error, The maximum number of related resources is ${limits.maximumRelatedResources}`,
        type: 'value_error',
      });
    } else {
      related = raw.related.map((r, i) => parseLabels(r, [...loc, 'related', i], issues, limits, true) ?? {});
    }
  }

  let payload: Record<string, unknown> = {};
  if (raw.payload !== undefined && raw.payload !== null) {
    if (!isPlainObject(raw.payload)) {
      issues.push({
        loc: [...loc, 'payload'],
        msg: 'Input should be a valid dictionary',
        type: 'dict_type',
        input: raw.payload,
      });
    } else {
      payload = raw.payload;
    }
  }

  let follows: string | null = null;
  if (raw.follows !== undefined && raw.follows !== null) {
    follows = parseUuid(raw.follows, [...loc, 'follows'], issues) ?? null;
  }

  if (issues.length) {
    return { issues };
  }
  return {
    event: { id: id!, occurred: occurred!, event: event!, resource: resource!, related, payload, follows },
  };
}

const EVENT_KEYS = ['id', 'occurred', 'event', 'resource', 'related', 'payload', 'follows'] as const;

/**
 * Whether the client's object `raw`, which `parseEvent` accepted as `event`, holds exactly the event: no
 * extra keys, nothing normalised (ids already lower-case, timestamps canonical), and the optional fields
 * either given or left out (not `null`, which the event turns into a default). Then `raw` with `received`
 * and the defaults of the omitted fields added reads back as the stamped event.
 */
export function isAsSent(raw: Record<string, unknown>, event: PrefectEvent): boolean {
  if (
    raw.id !== event.id ||
    raw.occurred !== event.occurred ||
    raw.related === null ||
    raw.payload === null
  ) {
    return false;
  }
  if (raw.follows !== undefined && raw.follows !== event.follows) {
    return false;
  }
  let present = 0;
  for (const key of EVENT_KEYS) {
    if (raw[key] !== undefined) {
      present++;
    }
  }
  return Object.keys(raw).length === present;
}

/** Like `parseEvent`, also reading `received` (ReceivedEvent, e.g. from the bus or a dead letter). */
export function parseReceivedEvent(
  raw: unknown,
  limits: EventLimits,
  loc: Loc = [],
): { event: ReceivedEvent } | { issues: ValidationIssue[] } {
  const parsed = parseEvent(raw, limits, loc);
  if (parsed.issues) {
    return { issues: parsed.issues };
  }
  const issues: ValidationIssue[] = [];
  const received = parseTimestamp((raw as Record<string, unknown>).received, [...loc, 'received'], issues);
  if (issues.length) {
    return { issues };
  }
  return { event: { ...parsed.event, received: received! } };
}

/** The wire form of a received event (docs/reference.md §1.7 / §6), with µs timestamps. */
export function toWire(event: ReceivedEvent): Record<string, unknown> {
  return {
    occurred: event.occurred,
    event: event.event,
    resource: event.resource,
    related: event.related,
    payload: event.payload,
    id: event.id,
    follows: event.follows,
    received: event.received,
  };
}
