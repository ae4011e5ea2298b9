import { Timestamp } from '../common/time/timestamp';

/** A resource's labels: `prefect.resource.id` (required) and any other string labels (docs/reference.md §6). */
export type Resource = Record<string, string>;
/** A related resource also carries `prefect.resource.role`. */
export type RelatedResource = Record<string, string>;

/** An event as clients send it (docs/reference.md §6). Timestamps are canonical µs strings (common/time/timestamp.ts). */
export interface PrefectEvent {
  id: string;
  occurred: Timestamp;
  event: string;
  resource: Resource;
  related: RelatedResource[];
  payload: Record<string, unknown>;
  follows: string | null;
}

/** An event as the server has accepted it: `received` is stamped by the server at ingestion. */
export interface ReceivedEvent extends PrefectEvent {
  received: Timestamp;
}
