import { SqlParams } from '../../database/sql-params';
import { RESOURCE_ID, RESOURCE_ROLE } from '../event.schema';
import { globToLike, ResourceSpecification } from '../resource-specification';
import { EventFilter } from './event-filter.types';
import { parseTextQuery } from './text-query';

/** SQL (against `events e`) for a parsed filter; its values are added to `params` (placeholders follow theirs). */
export class FilterSql {
  constructor(readonly params: SqlParams = new SqlParams()) {}

  where(f: EventFilter): string {
    const c: string[] = [
      `e.occurred >= ${this.params.add(f.occurred.since)}::timestamptz`,
      `e.occurred <= ${this.params.add(f.occurred.until)}::timestamptz`,
    ];
    if (f.event) {
      if (f.event.prefix) {
        c.push(
          `e.event LIKE ANY(${this.params.add(f.event.prefix.map((x) => `${escapeLike(x)}%`))}::text[])`,
        );
      }
      if (f.event.excludePrefix?.length) {
        c.push(
          `NOT (e.event LIKE ANY(${this.params.add(f.event.excludePrefix.map((x) => `${escapeLike(x)}%`))}::text[]))`,
        );
      }
      if (f.event.name) {
        c.push(`e.event = ANY(${this.params.add(f.event.name)}::text[])`);
      }
      if (f.event.excludeName?.length) {
        c.push(`e.event <> ALL(${this.params.add(f.event.excludeName)}::text[])`);
      }
    }
    if (f.resource) {
      if (f.resource.id) {
        c.push(`e.resource_id = ANY(${this.params.add(f.resource.id)}::text[])`);
      }
      if (f.resource.idPrefix) {
        c.push(
          `e.resource_id LIKE ANY(${this.params.add(f.resource.idPrefix.map((x) => `${escapeLike(x)}%`))}::text[])`,
        );
      }
      if (f.resource.labels) {
        c.push(...this.labels(f.resource.labels, (k) => `(e.resource->>${this.params.add(k)})`));
      }
    }
    for (const r of f.related ?? []) {
      const rc: string[] = [];
      if (r.id) {
        rc.push(`r.resource_id = ANY(${this.params.add(r.id)}::text[])`);
      }
      if (r.role) {
        rc.push(`r.resource_role = ANY(${this.params.add(r.role)}::text[])`);
      } else {
        rc.push(`r.resource_role <> ''`);
      }
      if (r.resourcesInRoles?.length) {
        rc.push(
          `(r.resource_id, r.resource_role) IN (SELECT * FROM unnest(${this.params.add(r.resourcesInRoles.map((x) => x[0]))}::text[], ${this.params.add(r.resourcesInRoles.map((x) => x[1]))}::text[]))`,
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
        rc.push(`r.resource_id = ANY(${this.params.add(a.id)}::text[])`);
      }
      if (a.idPrefix) {
        rc.push(
          `r.resource_id LIKE ANY(${this.params.add(a.idPrefix.map((x) => `${escapeLike(x)}%`))}::text[])`,
        );
      }
      if (a.labels) {
        rc.push(...this.labels(a.labels, (k) => this.resourceLabel(k)));
      }
      c.push(this.resourceSubquery(f, rc));
    }
    if (f.id?.id) {
      c.push(`e.id = ANY(${this.params.add(f.id.id)}::uuid[])`);
    }
    if (f.text?.query) {
      const t = parseTextQuery(f.text.query);
      const doc = `(e.event || ' ' || e.resource::text || ' ' || e.related::text || ' ' || e.payload::text)`;
      const like = (term: string) => `${doc} ILIKE ${this.params.add(`%${escapeLike(term)}%`)}`;
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
    const bounds = `r.occurred >= ${this.params.add(f.occurred.since)}::timestamptz AND r.occurred <= ${this.params.add(f.occurred.until)}::timestamptz`;
    return `e.id IN (SELECT r.event_id FROM event_resources r WHERE ${[bounds, ...conditions].join(' AND ')})`;
  }

  private resourceLabel(key: string): string {
    if (key === RESOURCE_ID) {
      return 'r.resource_id';
    }
    if (key === RESOURCE_ROLE) {
      return 'r.resource_role';
    }
    return `(r.resource->>${this.params.add(key)})`;
  }

  private labels(spec: ResourceSpecification, column: (key: string) => string): string[] {
    return Object.entries(spec).map(([key, patterns]) => {
      const col = column(key);
      if (!patterns.length) {
        return 'false';
      }
      const alternatives = patterns.map((pattern) => {
        const negated = pattern.startsWith('!');
        const like = this.params.add(globToLike(negated ? pattern.slice(1) : pattern));
        return negated ? `${col} NOT LIKE ${like}` : `${col} LIKE ${like}`;
      });
      return `(${col} IS NOT NULL AND (${alternatives.join(' OR ')}))`;
    });
  }
}

export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
