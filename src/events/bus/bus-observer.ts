import { ReceivedEvent } from '../event.types';

/** What a bus adapter reports to the rest of the app: events it gives up on (→ the dead-letter table). */
export interface BusObserver {
  deadLetter(group: string, event: ReceivedEvent, attempts: number, reason: string): Promise<void>;
}

export const NOOP_OBSERVER: BusObserver = { deadLetter: () => Promise.resolve() };

/** Dead-letter source of events a bus gave up delivering; the payload is `{group, event}`. */
export const EVENT_BUS_DEAD_LETTER_SOURCE = 'event-bus';
