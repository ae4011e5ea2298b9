import { EncodedEvents } from '../encoded-events';
import { ReceivedEvent } from '../event.types';

/**
 * Called once per delivered event. Resolve only when the event is durably handled (e.g. its batch is
 * committed): the bus acknowledges it then. Reject to have the bus redeliver it later (at-least-once).
 */
export type EventHandler = (event: ReceivedEvent) => Promise<void>;

export interface SubscribeOptions {
  /** Consumer group: each group gets every event once; within a group each event goes to one consumer. */
  group: string;
  /** Events handed to the handler and not yet settled, at most (lets buffered consumers batch). */
  maxInFlight?: number;
}

export interface Subscription {
  /** Stops delivering new events and waits for handlers in flight to settle. */
  close(): Promise<void>;
}

/** Why the bus cannot take more events now (ingestion answers 429, or 503 for `closing`). */
export interface BusPressure {
  kind: 'full' | 'closing';
  message: string;
}

/** Groups named with this prefix are live-only: they start at the head, keep no position, hold back nothing. */
export const EPHEMERAL_GROUP_PREFIX = 'ephemeral:';

/**
 * The event bus port (docs/events.md). Adapters: PostgreSQL (default: a durable log with consumer groups),
 * Redis Streams, and in-memory (tests; loses its backlog on a crash), chosen by
 * `PREFECT_SERVER_EVENTS_MESSAGING_BROKER`.
 */
export abstract class EventBus {
  /**
   * Resolves when the events are accepted by the bus: for the durable adapters, when they survive SIGKILL
   * (PostgreSQL: committed; Redis: appended to the stream). `encoded`, when given, holds the same events'
   * stored texts (ingestion builds them from the request's bytes); an adapter that writes JSON may use it
   * instead of serialising the events.
   */
  abstract publish(events: ReceivedEvent[], encoded?: EncodedEvents): Promise<void>;

  abstract subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription>;

  /** Per durable group: events published and not yet settled by that group (an estimate where exact is costly). */
  abstract backlog(): Promise<Record<string, number>>;

  /** Puts one event back for one group only (dead-letter replay). */
  abstract redeliver(group: string, event: ReceivedEvent): Promise<void>;

  /**
   * Synchronous, from what the adapter last measured: whether a publish of more events should be refused
   * because some durable group is more than `maxBacklog` events behind (or the bus is closing).
   */
  abstract pressure(maxBacklog: number): BusPressure | undefined;
}
