import { ValidationIssue } from '../../common/errors/request-validation.error';
import { fromMicros, Timestamp } from '../../common/time/timestamp';
import { isUuid } from '../../common/validation/uuid';
import { parseTimestamp } from '../event.schema';
import { ResourceSpecification } from '../resource-specification';
import { EventFilter, FilterParseError } from './event-filter.types';

type Loc = (string | number)[];
type Obj = Record<string, unknown>;

const DAY_US = 86_400_000_000;

class Parser {
  readonly issues: ValidationIssue[] = [];

  object(value: unknown, loc: Loc, allowed: readonly string[]): Obj | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.issues.push({
        loc,
        msg: 'Input should be a valid dictionary or object',
        type: 'model_type',
        input: value,
      });
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.issues.push({
          loc: [...loc, key],
          msg: 'Extra inputs are not permitted',
          type: 'extra_forbidden',
          input: (value as Obj)[key],
        });
      }
    }
    return value as Obj;
  }

  strings(value: unknown, loc: Loc): string[] | undefined {
    if (value === undefined || value === null) {
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.issues.push({ loc, msg: 'Input should be a valid list', type: 'list_type', input: value });
      return undefined;
    }
    value.forEach((v, i) => {
      if (typeof v !== 'string') {
        this.issues.push({
          loc: [...loc, i],
          msg: 'Input should be a valid string',
          type: 'string_type',
          input: v,
        });
      }
    });
    // As upstream, an empty list constrains nothing (Prefect clients send e.g. `"id": {"id": []}` by default).
    return value.length ? (value as string[]) : undefined;
  }

  uuids(value: unknown, loc: Loc): string[] | undefined {
    const list = this.strings(value, loc);
    list?.forEach((v, i) => {
      if (typeof v === 'string' && !isUuid(v)) {
        this.issues.push({
          loc: [...loc, i],
          msg: 'Input should be a valid UUID',
          type: 'uuid_parsing',
          input: v,
        });
      }
    });
    return list?.map((v) => String(v).toLowerCase());
  }

  timestamp(value: unknown, loc: Loc): Timestamp | undefined {
    if (value === undefined || value === null) {
      return undefined;
    }
    return parseTimestamp(value, loc, this.issues);
  }

  bool(value: unknown, loc: Loc): boolean | undefined {
    if (value === undefined || value === null) {
      return undefined;
    }
    if (typeof value !== 'boolean') {
      this.issues.push({ loc, msg: 'Input should be a valid boolean', type: 'bool_type', input: value });
      return undefined;
    }
    return value;
  }

  labels(value: unknown, loc: Loc): ResourceSpecification | undefined {
    if (value === undefined || value === null) {
      return undefined;
    }
    const obj = this.object(value, loc, Object.keys(value));
    if (!obj) {
      return undefined;
    }
    const spec: ResourceSpecification = {};
    for (const [key, v] of Object.entries(obj)) {
      if (typeof v === 'string') {
        spec[key] = [v];
      } else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
        spec[key] = v;
      } else {
        this.issues.push({
          loc: [...loc, key],
          msg: 'Input should be a valid string or list of strings',
          type: 'string_type',
          input: v,
        });
      }
    }
    return spec;
  }

  oneOrMany(value: unknown, loc: Loc, each: (v: unknown, loc: Loc) => void): void {
    if (value === undefined || value === null) {
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => each(v, [...loc, i]));
    } else {
      each(value, loc);
    }
  }
}

/** The default `occurred.since`: the start of today (UTC) minus 180 days. */
export function defaultSince(nowMicros: number): Timestamp {
  return fromMicros(Math.floor(nowMicros / DAY_US) * DAY_US - 180 * DAY_US);
}

/**
 * Parses an EventFilter (docs/reference.md §2; extra keys forbidden). `null`/`undefined` is the empty filter. Throws
 * `FilterParseError` with FastAPI-shaped issues located under `loc`.
 */
export function parseEventFilter(
  raw: unknown,
  nowMicros: number,
  loc: Loc = ['body', 'filter'],
): EventFilter {
  const p = new Parser();
  const filter: EventFilter = {
    occurred: { since: defaultSince(nowMicros), until: fromMicros(nowMicros) },
    order: 'DESC',
  };
  if (raw === undefined || raw === null) {
    return filter;
  }
  const f = p.object(raw, loc, [
    'occurred',
    'event',
    'resource',
    'related',
    'any_resource',
    'id',
    'text',
    'order',
  ]);
  if (f) {
    if (f.occurred !== undefined && f.occurred !== null) {
      const o = p.object(f.occurred, [...loc, 'occurred'], ['since', 'until']);
      if (o) {
        filter.occurred.since = p.timestamp(o.since, [...loc, 'occurred', 'since']) ?? filter.occurred.since;
        filter.occurred.until = p.timestamp(o.until, [...loc, 'occurred', 'until']) ?? filter.occurred.until;
      }
    }
    if (f.event !== undefined && f.event !== null) {
      const l = [...loc, 'event'];
      const e = p.object(f.event, l, ['prefix', 'exclude_prefix', 'name', 'exclude_name']);
      if (e) {
        filter.event = {
          prefix: p.strings(e.prefix, [...l, 'prefix']),
          excludePrefix: p.strings(e.exclude_prefix, [...l, 'exclude_prefix']),
          name: p.strings(e.name, [...l, 'name']),
          excludeName: p.strings(e.exclude_name, [...l, 'exclude_name']),
        };
      }
    }
    if (f.resource !== undefined && f.resource !== null) {
      const l = [...loc, 'resource'];
      const r = p.object(f.resource, l, ['id', 'id_prefix', 'labels', 'distinct']);
      if (r) {
        filter.resource = {
          id: p.strings(r.id, [...l, 'id']),
          idPrefix: p.strings(r.id_prefix, [...l, 'id_prefix']),
          labels: p.labels(r.labels, [...l, 'labels']),
          distinct: p.bool(r.distinct, [...l, 'distinct']) ?? false,
        };
      }
    }
    p.oneOrMany(f.related, [...loc, 'related'], (v, l) => {
      const r = p.object(v, l, ['id', 'role', 'resources_in_roles', 'labels']);
      if (!r) {
        return;
      }
      let pairs: [string, string][] | undefined;
      if (r.resources_in_roles !== undefined && r.resources_in_roles !== null) {
        if (
          !Array.isArray(r.resources_in_roles) ||
          !r.resources_in_roles.every(
            (x) => Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === 'string'),
          )
        ) {
          p.issues.push({
            loc: [...l, 'resources_in_roles'],
            msg: 'Input should be a list of [id, role] pairs',
            type: 'list_type',
            input: r.resources_in_roles,
          });
        } else if (r.resources_in_roles.length) {
          pairs = r.resources_in_roles as [string, string][];
        }
      }
      (filter.related ??= []).push({
        id: p.strings(r.id, [...l, 'id']),
        role: p.strings(r.role, [...l, 'role']),
        resourcesInRoles: pairs,
        labels: p.labels(r.labels, [...l, 'labels']),
      });
    });
    p.oneOrMany(f.any_resource, [...loc, 'any_resource'], (v, l) => {
      const r = p.object(v, l, ['id', 'id_prefix', 'labels']);
      if (!r) {
        return;
      }
      (filter.anyResource ??= []).push({
        id: p.strings(r.id, [...l, 'id']),
        idPrefix: p.strings(r.id_prefix, [...l, 'id_prefix']),
        labels: p.labels(r.labels, [...l, 'labels']),
      });
    });
    if (f.id !== undefined && f.id !== null) {
      const i = p.object(f.id, [...loc, 'id'], ['id']);
      if (i) {
        filter.id = { id: p.uuids(i.id, [...loc, 'id', 'id']) };
      }
    }
    if (f.text !== undefined && f.text !== null) {
      const t = p.object(f.text, [...loc, 'text'], ['query']);
      if (t && t.query !== undefined && t.query !== null) {
        if (typeof t.query !== 'string') {
          p.issues.push({
            loc: [...loc, 'text', 'query'],
            msg: 'Input should be a valid string',
            type: 'string_type',
            input: t.query,
          });
        } else if (t.query.length > 200) {
          p.issues.push({
            loc: [...loc, 'text', 'query'],
            msg: 'String should have at most 200 characters',
            type: 'string_too_long',
            input: t.query,
          });
        } else {
          filter.text = { query: t.query };
        }
      }
    }
    if (f.order !== undefined && f.order !== null) {
      if (f.order !== 'ASC' && f.order !== 'DESC') {
        p.issues.push({
          loc: [...loc, 'order'],
          msg: "Input should be 'ASC' or 'DESC'",
          type: 'enum',
          input: f.order,
        });
      } else {
        filter.order = f.order;
      }
    }
  }
  if (p.issues.length) {
    throw new FilterParseError(p.issues);
  }
  return filter;
}
