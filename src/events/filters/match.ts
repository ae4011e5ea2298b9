import { toMicros } from '../../common/time/timestamp';
import { RESOURCE_ID, RESOURCE_ROLE } from '../event.schema';
import { ReceivedEvent } from '../event.types';
import { labelMatches, specificationMatches } from '../resource-specification';
import { EventFilter } from './event-filter.types';
import { parseTextQuery } from './text-query';

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
