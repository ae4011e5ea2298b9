import { ValidationIssue } from '../common/errors/request-validation.error';
import {
  fromMicros,
  InvalidTimestampError,
  normalizeTimestamp,
  Timestamp,
  toMicros,
} from '../common/time/timestamp';
import { RESOURCE_ID, RESOURCE_ROLE } from './event.schema';
import { ReceivedEvent } from './event.types';
import {
  globToLike,
  labelMatches,
  ResourceSpecification,
  specificationMatches,
} from './resource-specification';

/** EventFilter of docs/reference.md §2, parsed: defaults resolved (`occurred`), lists normalised. */
export interface EventFilter {
  occurred: { since: Timestamp; until: Timestamp };
  event?: { prefix?: string[]; excludePrefix?: string[]; name?: string[]; excludeName?: string[] };
  resource?: { id?: string[]; idPrefix?: string[]; labels?: ResourceSpecification; distinct: boolean };
  /** ANDed. */
  related?: RelatedFilter[];
  /** ANDed. */
  anyResource?: AnyResourceFilter[];
  id?: { id?: string[] };
  text?: { query?: string };
  order: 'ASC' | 'DESC';
}

export interface RelatedFilter {
  id?: string[];
  role?: string[];
  resourcesInRoles?: [string, string][];
  labels?: ResourceSpecification;
}

export interface AnyResourceFilter {
  id?: string[];
  idPrefix?: string[];
  labels?: ResourceSpecification;
}

export class FilterParseError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '));
    this.name = 'FilterParseError';
  }
}

type Loc = (string | number)[];
type Obj = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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
      if (typeof v === 'string' && !UUID.test(v)) {
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
    if (typeof value === 'string') {
      try {
        return normalizeTimestamp(value);
      } catch (err) {
        if (!(err instanceof InvalidTimestampError)) {
          throw err;
        }
      }
    }
    this.issues.push({
      loc,
      msg: 'Input should be a valid datetime',
      type: 'datetime_parsing',
      input: value,
    });
    return undefined;
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

/** The wire form of a parsed filter (for page tokens): parsing it again gives the same filter. */
export function filterToWire(f: EventFilter): Obj {
  const out: Obj = { occurred: { since: f.occurred.since, until: f.occurred.until }, order: f.order };
  if (f.event) {
    out.event = {
      prefix: f.event.prefix,
      exclude_prefix: f.event.excludePrefix,
      name: f.event.name,
      exclude_name: f.event.excludeName,
    };
  }
  if (f.resource) {
    out.resource = {
      id: f.resource.id,
      id_prefix: f.resource.idPrefix,
      labels: f.resource.labels,
      distinct: f.resource.distinct,
    };
  }
  if (f.related) {
    out.related = f.related.map((r) => ({
      id: r.id,
      role: r.role,
      resources_in_roles: r.resourcesInRoles,
      labels: r.labels,
    }));
  }
  if (f.anyResource) {
    out.any_resource = f.anyResource.map((r) => ({ id: r.id, id_prefix: r.idPrefix, labels: r.labels }));
  }
  if (f.id) {
    out.id = { id: f.id.id };
  }
  if (f.text) {
    out.text = { query: f.text.query };
  }
  return JSON.parse(JSON.stringify(out)) as Obj; // drops undefined
}

/** Text search terms (docs/reference.md §2): plain terms are ORed, `+term` required, `-term` excluded, `"a phrase"` one term. */
export interface TextTerms {
  include: string[];
  required: string[];
  exclude: string[];
}

export function parseTextQuery(query: string): TextTerms {
  const terms: TextTerms = { include: [], required: [], exclude: [] };
  const re = /([+-]?)(?:"([^"]*)"|(\S+))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(query))) {
    const term = (m[2] ?? m[3] ?? '').trim();
    if (!term) {
      continue;
    }
    if (m[1] === '+') {
      terms.required.push(term);
    } else if (m[1] === '-') {
      terms.exclude.push(term);
    } else {
      terms.include.push(term);
    }
  }
  return terms;
}

/** SQL (against `events e`) for a parsed filter; parameters are appended to `params`. */
export class FilterSql {
  constructor(readonly params: unknown[] = []) {}

  p(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  where(f: EventFilter): string {
    const c: string[] = [
      `e.occurred >= ${this.p(f.occurred.since)}::timestamptz`,
      `e.occurred <= ${this.p(f.occurred.until)}::timestamptz`,
    ];
    if (f.event) {
      if (f.event.prefix) {
        c.push(`e.event LIKE ANY(${this.p(f.event.prefix.map((x) => `${escapeLike(x)}%`))}::text[])`);
      }
      if (f.event.excludePrefix?.length) {
        c.push(
          `NOT (e.event LIKE ANY(${this.p(f.event.excludePrefix.map((x) => `${escapeLike(x)}%`))}::text[]))`,
        );
      }
      if (f.event.name) {
        c.push(`e.event = ANY(${this.p(f.event.name)}::text[])`);
      }
      if (f.event.excludeName?.length) {
        c.push(`e.event <> ALL(${this.p(f.event.excludeName)}::text[])`);
      }
    }
    if (f.resource) {
      if (f.resource.id) {
        c.push(`e.resource_id = ANY(${this.p(f.resource.id)}::text[])`);
      }
      if (f.resource.idPrefix) {
        c.push(
          `e.resource_id LIKE ANY(${this.p(f.resource.idPrefix.map((x) => `${escapeLike(x)}%`))}::text[])`,
        );
      }
      if (f.resource.labels) {
        c.push(...this.labels(f.resource.labels, (k) => `(e.resource->>${this.p(k)})`));
      }
    }
    for (const r of f.related ?? []) {
      const rc: string[] = [];
      if (r.id) {
        rc.push(`r.resource_id = ANY(${this.p(r.id)}::text[])`);
      }
      if (r.role) {
        rc.push(`r.resource_role = ANY(${this.p(r.role)}::text[])`);
      } else {
        rc.push(`r.resource_role <> ''`);
      }
      if (r.resourcesInRoles?.length) {
        rc.push(
          `(r.resource_id, r.resource_role) IN (SELECT * FROM unnest(${this.p(r.resourcesInRoles.map((x) => x[0]))}::text[], ${this.p(r.resourcesInRoles.map((x) => x[1]))}::text[]))`,
        );
      }
      if (r.labels) {
        rc.push(...this.labels(r.labels, (k) => this.resourceLabel(k)));
      }
      c.push(this.resourceSubquery(f, rc));
    }
    for (const a of f.anyResource ?? []) {
      const rc: string[] = [];
      if (a.id) {
        rc.push(`r.resource_id = ANY(${this.p(a.id)}::text[])`);
      }
      if (a.idPrefix) {
        rc.push(`r.resource_id LIKE ANY(${this.p(a.idPrefix.map((x) => `${escapeLike(x)}%`))}::text[])`);
      }
      if (a.labels) {
        rc.push(...this.labels(a.labels, (k) => this.resourceLabel(k)));
      }
      c.push(this.resourceSubquery(f, rc));
    }
    if (f.id?.id) {
      c.push(`e.id = ANY(${this.p(f.id.id)}::uuid[])`);
    }
    if (f.text?.query) {
      const t = parseTextQuery(f.text.query);
      const doc = `(e.event || ' ' || e.resource::text || ' ' || e.related::text || ' ' || e.payload::text)`;
      const like = (term: string) => `${doc} ILIKE ${this.p(`%${escapeLike(term)}%`)}`;
      if (t.include.length) {
        c.push(`(${t.include.map(like).join(' OR ')})`);
      }
      for (const term of t.required) {
        c.push(like(term));
      }
      for (const term of t.exclude) {
        c.push(`NOT (${like(term)})`);
      }
    }
    return c.join(' AND ');
  }

  private resourceSubquery(f: EventFilter, conditions: string[]): string {
    const bounds = `r.occurred >= ${this.p(f.occurred.since)}::timestamptz AND r.occurred <= ${this.p(f.occurred.until)}::timestamptz`;
    return `e.id IN (SELECT r.event_id FROM event_resources r WHERE ${[bounds, ...conditions].join(' AND ')})`;
  }

  private resourceLabel(key: string): string {
    if (key === RESOURCE_ID) {
      return 'r.resource_id';
    }
    if (key === RESOURCE_ROLE) {
      return 'r.resource_role';
    }
    return `(r.resource->>${this.p(key)})`;
  }

  private labels(spec: ResourceSpecification, column: (key: string) => string): string[] {
    return Object.entries(spec).map(([key, patterns]) => {
      const col = column(key);
      if (!patterns.length) {
        return 'false';
      }
      const alternatives = patterns.map((pattern) => {
        const negated = pattern.startsWith('!');
        const like = this.p(globToLike(negated ? pattern.slice(1) : pattern));
        return negated ? `${col} NOT LIKE ${like}` : `${col} LIKE ${like}`;
      });
      return `(${col} IS NOT NULL AND (${alternatives.join(' OR ')}))`;
    });
  }
}

export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function allResources(event: ReceivedEvent): Record<string, string>[] {
  return [event.resource, ...event.related];
}

/** Whether an event matches a filter, in memory (the live part of `/events/out`). Mirrors `FilterSql`. */
export function eventMatches(f: EventFilter, e: ReceivedEvent): boolean {
  const occurred = toMicros(e.occurred);
  if (occurred < toMicros(f.occurred.since) || occurred > toMicros(f.occurred.until)) {
    return false;
  }
  if (f.event) {
    if (f.event.prefix && !f.event.prefix.some((x) => e.event.startsWith(x))) {
      return false;
    }
    if (f.event.excludePrefix?.some((x) => e.event.startsWith(x))) {
      return false;
    }
    if (f.event.name && !f.event.name.includes(e.event)) {
      return false;
    }
    if (f.event.excludeName?.includes(e.event)) {
      return false;
    }
  }
  const rid = e.resource[RESOURCE_ID];
  if (f.resource) {
    if (f.resource.id && !f.resource.id.includes(rid)) {
      return false;
    }
    if (f.resource.idPrefix && !f.resource.idPrefix.some((x) => rid.startsWith(x))) {
      return false;
    }
    if (f.resource.labels && !specificationMatches(f.resource.labels, e.resource)) {
      return false;
    }
  }
  for (const r of f.related ?? []) {
    const hit = e.related.some((res) => {
      const id = res[RESOURCE_ID];
      const role = res[RESOURCE_ROLE] ?? '';
      if (r.id && !r.id.includes(id)) {
        return false;
      }
      if (r.role ? !r.role.includes(role) : role === '') {
        return false;
      }
      if (r.resourcesInRoles?.length && !r.resourcesInRoles.some(([i, ro]) => i === id && ro === role)) {
        return false;
      }
      if (r.labels && !specificationMatches(r.labels, res)) {
        return false;
      }
      return true;
    });
    if (!hit) {
      return false;
    }
  }
  for (const a of f.anyResource ?? []) {
    const hit = allResources(e).some((res) => {
      const id = res[RESOURCE_ID];
      if (a.id && !a.id.includes(id)) {
        return false;
      }
      if (a.idPrefix && !a.idPrefix.some((x) => id.startsWith(x))) {
        return false;
      }
      if (
        a.labels &&
        !Object.entries(a.labels).every(([k, v]) =>
          labelMatches(k === RESOURCE_ROLE ? (res[k] ?? '') : res[k], v),
        )
      ) {
        return false;
      }
      return true;
    });
    if (!hit) {
      return false;
    }
  }
  if (f.id?.id && !f.id.id.includes(e.id)) {
    return false;
  }
  if (f.text?.query) {
    const t = parseTextQuery(f.text.query);
    const doc =
      `${e.event} ${JSON.stringify(e.resource)} ${JSON.stringify(e.related)} ${JSON.stringify(e.payload)}`.toLowerCase();
    const has = (term: string) => doc.includes(term.toLowerCase());
    if (t.include.length && !t.include.some(has)) {
      return false;
    }
    if (!t.required.every(has)) {
      return false;
    }
    if (t.exclude.some(has)) {
      return false;
    }
  }
  return true;
}
