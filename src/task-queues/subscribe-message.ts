/** Close reasons of the scheduled-task-run subscription (docs/reference.md §3.2), all with close code 4001. */
export const SubscribeViolation = {
  TYPE: "Protocol violation: expected 'subscribe' message",
  KEYS: "Protocol violation: expected 'keys' in subscribe message",
  CLIENT_ID: "Protocol violation: expected 'client_id' in subscribe message",
} as const;

/** Close reason when a delivered run is answered with something other than `ack` or `quit`. */
export const UNEXPECTED_ACK_REASON = 'Unexpected acknowledgement type.';

export type SubscribeResult = { ok: true; keys: string[]; clientId: string } | { ok: false; reason: string };

/**
 * Validates the `{"type":"subscribe","keys":[…],"client_id":…}` frame, in upstream's order: type, then
 * keys (missing or empty), then client_id (missing or empty). Keys keep their order (it is the delivery
 * priority) without duplicates.
 */
export function parseSubscribe(message: unknown): SubscribeResult {
  if (!message || typeof message !== 'object' || Array.isArray(message)) {
    return { ok: false, reason: SubscribeViolation.TYPE };
  }
  const m = message as Record<string, unknown>;
  if (m.type !== 'subscribe') {
    return { ok: false, reason: SubscribeViolation.TYPE };
  }
  const keys = m.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string')) {
    return { ok: false, reason: SubscribeViolation.KEYS };
  }
  const clientId = m.client_id;
  if ((typeof clientId !== 'string' && typeof clientId !== 'number') || clientId === '') {
    return { ok: false, reason: SubscribeViolation.CLIENT_ID };
  }
  return { ok: true, keys: [...new Set(keys)], clientId: String(clientId) };
}

export type Reply = 'ack' | 'quit' | 'other';

/** Classifies the worker's answer to a delivered run. */
export function parseReply(message: unknown): Reply {
  if (!message || typeof message !== 'object') {
    return 'other';
  }
  const type = (message as { type?: unknown }).type;
  return type === 'ack' ? 'ack' : type === 'quit' ? 'quit' : 'other';
}
