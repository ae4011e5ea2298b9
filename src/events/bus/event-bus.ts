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

/**
 * The event bus port (ARCHITECTURE.md): publish events; subscribe with a consumer group. Adapters:
 * in-memory (default, one process) and Redis Streams (PREFECT_SERVER_EVENTS_MESSAGING_BROKER=redis).
 */
export abstract class EventBus {
  /** Resolves when the events are accepted by the bus (in Redis: appended to the stream). */
  abstract publish(events: ReceivedEvent[]): Promise<void>;

  abstract subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription>;
}
