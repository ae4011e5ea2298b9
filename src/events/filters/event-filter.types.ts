import { ValidationIssue } from '../../common/errors/request-validation.error';
import { Timestamp } from '../../common/time/timestamp';
import { ResourceSpecification } from '../resource-specification';

/*
 * The EventFilter, in pieces by role: these types; parse.ts (wire → EventFilter, FastAPI-shaped issues);
 * serialize.ts (EventFilter → wire, for page tokens); sql.ts (EventFilter → SQL over `events e`); match.ts (the
 * same filter in memory, for the live part of `/events/out`); text-query.ts (the `text.query` terms both use).
 */

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

/** Thrown by `parseEventFilter`, with the issues to answer 422 with. */
export class FilterParseError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '));
    this.name = 'FilterParseError';
  }
}
