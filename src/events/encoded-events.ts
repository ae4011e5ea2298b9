import { ReceivedEvent } from './event.types';
import { RawEventSpans } from './raw-event-array';

/**
 * The stored JSON text of each event of one publish, as UTF-8, each preceded by its byte length (int32, big
 * endian): the element section of PostgreSQL's binary array format, so the log's append sends a batch as one
 * `json[]` parameter by concatenation (src/events/bus/postgres-event-bus.ts). Buses that keep objects ignore it.
 */
export interface EncodedEvents {
  readonly bytes: Buffer;
  readonly count: number;
}

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
  const texts = events.map((e) => Buffer.from(storedJson(e)));
  let size = 0;
  for (const t of texts) {
    size += 4 + t.length;
  }
  const bytes = Buffer.allocUnsafe(size);
  let o = 0;
  for (const t of texts) {
    bytes.writeInt32BE(t.length, o);
    t.copy(bytes, o + 4);
    o += 4 + t.length;
  }
  return { bytes, count: events.length };
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
      size += 4 + text.length;
    } else {
      size +=
        4 +
        (spans.ends[s.span] - 1 - spans.starts[s.span]) +
        (s.related ? RELATED_DEFAULT.length : 0) +
        (s.payload ? PAYLOAD_DEFAULT.length : 0) +
        (s.follows ? FOLLOWS_DEFAULT.length : 0) +
        receivedPart.length;
    }
  }
  const bytes = Buffer.allocUnsafe(size);
  let o = 0;
  for (let i = 0; i < events.length; i++) {
    const s = sources[i];
    if (!s) {
      const text = fallback[i]!;
      bytes.writeInt32BE(text.length, o);
      o += 4 + text.copy(bytes, o + 4);
      continue;
    }
    const at = o;
    o += 4;
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
    bytes.writeInt32BE(o - at - 4, at);
  }
  return { bytes, count: events.length };
}
