import { EventFilter } from './event-filter.types';

/** The wire form of a parsed filter (for page tokens): parsing it again gives the same filter. */
export function filterToWire(f: EventFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {
    occurred: { since: f.occurred.since, until: f.occurred.until },
    order: f.order,
  };
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
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>; // drops undefined
}
