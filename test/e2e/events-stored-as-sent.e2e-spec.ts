import { randomUUID } from 'node:crypto';
import { parseEvent } from '../../src/events/event.schema';
import { ReceivedEvent } from '../../src/events/event.types';
import { createTestApp, TestApp } from '../utils/create-test-app';

/**
 * `POST /api/events` stores each event's own bytes with `received` spliced in, unless it needs normalising
 * (docs/events.md, "Storing the request's own bytes"). What the log holds must read back exactly as what the
 * earlier path stored: the parsed, stamped event serialised (NUL as the visible text `\u0000`).
 */
describe('POST /api/events: what the event log stores', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: 'false',
        PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false',
        PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
      },
    });
  });

  afterAll(async () => {
    await t.close();
  });

  /** What the log stored before this path existed: the parsed event, stamped, through JSON.stringify. */
  function storedBefore(raw: unknown, received: string): unknown {
    const parsed = parseEvent(raw, t.config.events);
    if (!parsed.event) {
      throw new Error(`corpus event is invalid: ${JSON.stringify(parsed.issues)}`);
    }
    const stamped: ReceivedEvent = { ...parsed.event, received };
    let json = JSON.stringify(stamped);
    if (json.includes('\\u0000')) {
      json = JSON.stringify(stamped, (_k, v: unknown) =>
        typeof v === 'string' ? v.replace(/\u0000/g, '\\u0000') : v,
      );
    }
    return JSON.parse(json);
  }

  async function post(body: string): Promise<{ text: string; event: Record<string, unknown> }[]> {
    await t.dataSource.query('TRUNCATE event_log');
    const res = await fetch(`${t.baseUrl}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(204);
    const rows: { text: string; event: Record<string, unknown> }[] = await t.dataSource.query(
      'SELECT event::text AS text, event FROM event_log ORDER BY position',
    );
    return rows;
  }

  const id = (): string => randomUUID();
  const resource = (): Record<string, string> => ({ 'prefect.resource.id': `prefect.task-run.${id()}` });

  /** Event texts as clients may write them; each must read back as the earlier path stored it. */
  const corpus = (): string[] => [
    // plain, fields in an unusual order, every optional field given
    `{"event":"a.b","id":"${id()}","occurred":"2026-01-02T03:04:05.123456Z","resource":${JSON.stringify(resource())},"related":[],"payload":{"x":1},"follows":null}`,
    // optional fields left out
    `{"id":"${id()}","occurred":"2026-01-02T03:04:05.000001Z","event":"a.b","resource":${JSON.stringify(resource())}}`,
    // blanks and newlines between tokens, nested payload, arrays, literals, numbers
    `{\n  "id" : "${id()}" ,\n "occurred":"2026-01-02T03:04:05.999999Z",\t"event":"x",\r\n "resource": ${JSON.stringify(resource())},\n "payload": {"a": [1, 2.5, -3, 0, true, false, null, {"b": {"c": [[]]}}], "s": "t"} , "follows" : "${id()}" \n}`,
    // unicode as UTF-8 and as escapes (incl. a surrogate pair), escaped quotes, backslashes, slashes, controls
    `{"id":"${id()}","occurred":"2026-01-02T03:04:05.500000Z","event":"é.ü.日本","resource":{"prefect.resource.id":"r-\\u00e9\\ud83d\\ude00","name":"a \\"q\\" \\\\ \\/ \\n\\t"},"payload":{"k\\u00e9y":"😀","ctl":"\\u0001\\b\\f"}}`,
    // normalised: upper-case id, offset timestamp, naive timestamp
    `{"id":"${id().toUpperCase()}","occurred":"2026-01-02T03:04:05+02:00","event":"n","resource":${JSON.stringify(resource())},"follows":"${id().toUpperCase()}"}`,
    `{"id":"${id()}","occurred":"2026-01-02 03:04:05.5","event":"n","resource":${JSON.stringify(resource())}}`,
    // extra keys (dropped), explicit nulls (defaulted), a client `received` (replaced)
    `{"id":"${id()}","occurred":"2026-01-02T03:04:05.123456Z","event":"x","resource":${JSON.stringify(resource())},"account":"acme","related":null,"payload":null,"received":"2020-01-01T00:00:00Z"}`,
    // numbers that do not read back as they are written: exponents, negative zero, huge
    `{"id":"${id()}","occurred":"2026-01-02T03:04:05.123456Z","event":"x","resource":${JSON.stringify(resource())},"payload":{"e":1e400,"f":1.5E3,"g":-0,"h":-0.0,"i":2e-7,"j":1${'0'.repeat(320)}}}`,
    // NUL, stored as the visible text \u0000
    `{"id":"${id()}","occurred":"2026-01-02T03:04:05.123456Z","event":"x","resource":${JSON.stringify(resource())},"payload":{"nul":"a\\u0000b"}}`,
    // duplicate keys: the last one wins, for JSON.parse as for PostgreSQL
    `{"id":"${id()}","occurred":"2026-01-02T03:04:05.123456Z","event":"first","event":"second","resource":${JSON.stringify(resource())},"payload":{"d":1,"d":2}}`,
    // related resources and labels
    `{"id":"${id()}","occurred":"2026-01-02T03:04:05.123456Z","event":"x","resource":${JSON.stringify({ ...resource(), a: 'b' })},"related":[{"prefect.resource.id":"f","prefect.resource.role":"flow-run"},{"prefect.resource.id":"t","prefect.resource.role":"tag","x":"y"}]}`,
  ];

  /** The corpus entries stored as sent; the others are normalised, carry extra keys or unsafe numbers. */
  const AS_SENT = [0, 1, 2, 3, 9, 10];

  it('should store every event of a corpus as the earlier path did', async () => {
    const texts = corpus();
    const body = `[\n${texts.join(' ,\n ')}\n]`;
    const rows = await post(body);
    expect(rows).toHaveLength(texts.length);
    texts.forEach((text, i) => {
      const stored = rows[i].event;
      expect(stored).toStrictEqual(storedBefore(JSON.parse(text), stored.received as string));
      expect(stored.received).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      // The events that need no normalising are stored as sent (their bytes, then `received`).
      expect([i, rows[i].text.startsWith(text.slice(0, -1))]).toEqual([i, AS_SENT.includes(i)]);
    });
  });

  it('should store the request bytes of an event that needs no normalising', async () => {
    const text = `{"event":"a.b",  "resource":{"prefect.resource.id":"r"},"occurred":"2026-01-02T03:04:05.123456Z","id":"${id()}"}`;
    const rows = await post(`[${text}]`);
    // The client's key order and blanks survive: the event was not serialised again.
    expect(rows[0].text.startsWith(text.slice(0, -1))).toBe(true);
    expect(rows[0].event).toStrictEqual(storedBefore(JSON.parse(text), rows[0].event.received as string));
  });

  it('should store the same events from a body with a byte-order mark', async () => {
    const text = corpus()[0];
    const rows = await post(`\uFEFF[${text}]`);
    expect(rows[0].event).toStrictEqual(storedBefore(JSON.parse(text), rows[0].event.received as string));
  });
});
