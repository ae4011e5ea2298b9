import { ReceivedEvent } from './event.types';
import { RawEventSpans } from './raw-event-array';

/**
 * The stored JSON texts of the events of one publish, as UTF-8, separated by commas (an array's elements
 * without the brackets): the log's append joins several publishes into its one `json` parameter by
 * concatenation (src/events/bus/postgres-event-bus.ts). Buses that keep objects ignore it.
 */
export interface EncodedEvents {
  readonly bytes: Buffer;
  readonly count: number;
}

const COMMA = 0x2c;

/**
 * The text the log stores for an event: its JSON, except that jsonb cannot hold `\u0000` (json can, but the
 * events table is jsonb), so such strings travel as the visible text `\u0000`, as EventsRepository stores them.
 */
export function storedJson(event: ReceivedEvent): string {
  const json = JSON.stringify(event);
  if (!json.includes('\\u0000')) {
    return json;
  }
  return JSON.stringify(event, (_key, value: unknown) =>
    typeof value === 'string' ? value.replace(/\u0000/g, '\\u0000') : value,
  );
}

/** Every event serialised (redeliveries, the websocket, callers without the request's bytes). */
export function encodeEvents(events: readonly ReceivedEvent[]): EncodedEvents {
  return { bytes: Buffer.from(events.map(storedJson).join(',')), count: events.length };
}

/**
 * An event of a request body that the log stores as sent (its span of the request's bytes), with `received`
 * and the defaults of the optional fields the client left out spliced in.
 */
export interface AsSent {
  /** Index into the request's spans. */
  span: number;
  /** Omitted optional fields, written with their defaults (as the parsed event has them). */
  related: boolean;
  payload: boolean;
  follows: boolean;
}

const RELATED_DEFAULT = Buffer.from(',"related":[]');
const PAYLOAD_DEFAULT = Buffer.from(',"payload":{}');
const FOLLOWS_DEFAULT = Buffer.from(',"follows":null');

/**
 * The stored texts of a request's events (docs/events.md, "Storing the request's own bytes"). An event with
 * an `AsSent` source is the request's bytes up to its closing brace, then `,"received":"…"`, the defaults of
 * omitted optional fields, and `}`; any other is `storedJson` of its parsed, stamped form. Both read back
 * (JSON.parse) as the same object; only key order and blanks may differ.
 */
export function encodeRequestEvents(
  body: Buffer,
  spans: RawEventSpans,
  events: readonly ReceivedEvent[],
  sources: readonly (AsSent | undefined)[],
  received: string,
): EncodedEvents {
  const receivedPart = Buffer.from(`,"received":${JSON.stringify(received)}}`);
  const fallback: (Buffer | undefined)[] = new Array<Buffer | undefined>(events.length);
  let size = 0;
  for (let i = 0; i < events.length; i++) {
    const s = sources[i];
    if (!s) {
      const text = Buffer.from(storedJson(events[i]));
      fallback[i] = text;
      size += 1 + text.length;
    } else {
      size +=
        1 +
        (spans.ends[s.span] - 1 - spans.starts[s.span]) +
        (s.related ? RELATED_DEFAULT.length : 0) +
        (s.payload ? PAYLOAD_DEFAULT.length : 0) +
        (s.follows ? FOLLOWS_DEFAULT.length : 0) +
        receivedPart.length;
    }
  }
  const bytes = Buffer.allocUnsafe(Math.max(0, size - 1));
  let o = 0;
  for (let i = 0; i < events.length; i++) {
    if (i > 0) {
      bytes[o++] = COMMA;
    }
    const s = sources[i];
    if (!s) {
      o += fallback[i]!.copy(bytes, o);
      continue;
    }
    // Everything but the closing brace (the element is an object: it validated as an event).
    o += body.copy(bytes, o, spans.starts[s.span], spans.ends[s.span] - 1);
    if (s.related) {
      o += RELATED_DEFAULT.copy(bytes, o);
    }
    if (s.payload) {
      o += PAYLOAD_DEFAULT.copy(bytes, o);
    }
    if (s.follows) {
      o += FOLLOWS_DEFAULT.copy(bytes, o);
    }
    o += receivedPart.copy(bytes, o);
  }
  return { bytes, count: events.length };
}
