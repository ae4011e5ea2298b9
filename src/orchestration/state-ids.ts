import { randomUUID } from 'node:crypto';

/** A UUIDv7 (time-ordered), as Prefect gives new states: 48-bit ms timestamp, version 7, random rest. */
export function uuid7(nowMs: number = Date.now()): string {
  const random = randomUUID(); // v4: random bits, with the variant already set in position 19
  const ts = Math.floor(nowMs).toString(16).padStart(12, '0').slice(-12);
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${random.slice(15, 18)}-${random.slice(19)}`;
}
