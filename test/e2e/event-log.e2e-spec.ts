import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Subscription } from '../../src/events/bus/event-bus';
import { PostgresEventBus } from '../../src/events/bus/postgres-event-bus';
import { ReceivedEvent } from '../../src/events/event.types';
import { wireEvent } from '../factories/event.factory';
import { expectEventually } from '../utils/expect-eventually';
import { createTestDatabase } from '../utils/test-database';

/**
 * The PostgreSQL broker against a real database: ordered visibility (the high-water mark never skips a row
 * committed late), group commit, saved positions, takeover, trimming.
 */
describe(PostgresEventBus.name, () => {
  let url: string;
  const buses: PostgresEventBus[] = [];
  const clients: Client[] = [];

  const ev = (): ReceivedEvent =>
    ({ ...wireEvent(), received: '2026-01-01T00:00:00.000000Z' }) as ReceivedEvent;
  const newBus = (options: ConstructorParameters<typeof PostgresEventBus>[1] = {}): PostgresEventBus => {
    const bus = new PostgresEventBus(url, {
      pollIntervalMs: 100,
      takeoverEveryMs: 100,
      trimEveryMs: 0,
      ...options,
    });
    buses.push(bus);
    return bus;
  };
  const newClient = async (): Promise<Client> => {
    const c = new Client({ connectionString: url });
    await c.connect();
    clients.push(c);
    return c;
  };
  const collect = async (
    bus: PostgresEventBus,
    group: string,
    got: string[],
    handler?: (e: ReceivedEvent) => Promise<void>,
  ): Promise<Subscription> =>
    bus.subscribe(
      async (e) => {
        if (handler) {
          await handler(e);
        }
        got.push(e.id);
      },
      { group, maxInFlight: 100 },
    );

  beforeAll(async () => {
    url = await createTestDatabase();
  });

  beforeEach(async () => {
    // A new group starts at the oldest row still in the log: give each test an empty log.
    const c = await newClient();
    await c.query('TRUNCATE event_log, event_log_group');
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) {
      await c.end().catch(() => undefined);
    }
    for (const b of buses.splice(0)) {
      await b.onApplicationShutdown().catch(() => undefined);
    }
  });

  it('should not skip a row whose transaction commits after a later one was appended', async () => {
    const bus = newBus();
    const got: string[] = [];
    await collect(bus, `hwm-${randomUUID()}`, got);
    const early = ev();
    const late = ev();
    // Transaction A appends a row and stays open.
    const a = await newClient();
    await a.query('BEGIN');
    await a.query(`INSERT INTO event_log (event) VALUES ($1::json)`, [JSON.stringify(early)]);
    // B appends a later row: it cannot commit (nor even take a position) before A ends.
    let lateCommitted = false;
    const publishing = bus.publish([late]).then(() => (lateCommitted = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(lateCommitted).toBe(false);
    expect(got).toEqual([]);
    await a.query('COMMIT');
    await publishing;
    await expectEventually(() => expect(got).toEqual([early.id, late.id]));
    const { rows } = await a.query<{ id: string; position: string }>(
      `SELECT event->>'id' AS id, position FROM event_log ORDER BY position`,
    );
    expect(rows.map((r) => r.id).slice(-2)).toEqual([early.id, late.id]);
  });

  it('should deliver every row exactly once in position order while writers race and roll back', async () => {
    const bus = newBus();
    const got: string[] = [];
    await collect(bus, `race-${randomUUID()}`, got);
    const committed: string[] = [];
    const writers = await Promise.all([0, 1, 2, 3].map(() => newClient()));
    await Promise.all(
      writers.map(async (c, w) => {
        for (let i = 0; i < 40; i++) {
          const e = ev();
          await c.query('BEGIN');
          await c.query(`INSERT INTO event_log (event) VALUES ($1::json)`, [JSON.stringify(e)]);
          await new Promise((r) => setTimeout(r, (i * 7 + w * 3) % 5));
          if ((i + w) % 9 === 0) {
            await c.query('ROLLBACK');
          } else {
            await c.query('COMMIT');
            committed.push(e.id);
          }
        }
      }),
    );
    await expectEventually(() => expect(got.length).toBe(committed.length));
    expect(new Set(got)).toEqual(new Set(committed));
    const { rows } = await writers[0].query<{ id: string }>(
      `SELECT event->>'id' AS id FROM event_log WHERE event->>'id' = ANY($1) ORDER BY position`,
      [committed],
    );
    expect(got).toEqual(rows.map((r) => r.id));
  });

  it('should share one commit between concurrent publishes and resolve each only once committed', async () => {
    const bus = newBus({ commitWindowMs: 20 });
    const events = Array.from({ length: 50 }, () => ev());
    await Promise.all(events.map((e) => bus.publish([e])));
    const c = await newClient();
    const { rows } = await c.query<{ n: number; xids: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS xids FROM event_log WHERE event->>'id' = ANY($1)`,
      [events.map((e) => e.id)],
    );
    expect(rows[0].n).toBe(50);
    expect(rows[0].xids).toBeLessThanOrEqual(3); // one or two statements (two appends may be in flight)
  });

  it('should resume a group from its saved position after its consumer dies, without skipping', async () => {
    const group = `resume-${randomUUID()}`;
    const first = newBus();
    const gotFirst: string[] = [];
    const handed: string[] = [];
    let hold = false;
    await collect(first, group, gotFirst, async (e) => {
      handed.push(e.id);
      if (hold) {
        await new Promise(() => undefined);
      } // never settles: as if the process died mid-batch
    });
    const before = Array.from({ length: 5 }, () => ev());
    await first.publish(before);
    await expectEventually(() => expect(gotFirst).toEqual(before.map((e) => e.id)));
    // The group's saved position reaches the last of them (the log holds only these rows).
    const c = await newClient();
    const last = (await c.query<{ p: string }>('SELECT max(position)::text AS p FROM event_log')).rows[0].p;
    await expectEventually(async () => {
      const saved = await c.query<{ p: string }>(
        'SELECT position::text AS p FROM event_log_group WHERE name = $1',
        [group],
      );
      expect(saved.rows[0]?.p).toBe(last);
    });
    hold = true;
    const during = Array.from({ length: 5 }, () => ev());
    await first.publish(during);
    // The first consumer holds all of them, unsettled.
    await expectEventually(() => expect(handed).toEqual(expect.arrayContaining(during.map((e) => e.id))));
    // A standby in another "process" waits for the group's lock, then takes over where the first left off.
    const second = newBus();
    const gotSecond: string[] = [];
    await collect(second, group, gotSecond);
    // A window in which nothing may arrive: the standby must not deliver while the first holds the group.
    await new Promise((r) => setTimeout(r, 300));
    expect(gotSecond).toEqual([]);
    first.abandon();
    await expectEventually(() => expect(gotSecond).toEqual(during.map((e) => e.id)));
  });

  it('should trim only rows every live group has passed, in bounded batches', async () => {
    const bus = newBus({ trimBatch: 3 });
    const fast: string[] = [];
    const fastGroup = `fast-${randomUUID()}`;
    await collect(bus, fastGroup, fast);
    const events = Array.from({ length: 10 }, () => ev());
    await bus.publish(events);
    await expectEventually(() => expect(fast.length).toBe(10));
    const c = await newClient();
    // A slow group that has read nothing holds trimming back.
    await c.query(`INSERT INTO event_log_group (name, position) VALUES ('slow-${randomUUID()}', 0)`);
    await expectEventually(async () => {
      const { rows } = await c.query<{ p: string }>(
        `SELECT position AS p FROM event_log_group WHERE name = $1`,
        [fastGroup],
      );
      expect(Number(rows[0].p)).toBeGreaterThan(0);
    });
    expect(await bus.trim()).toBe(0);
    await c.query(`DELETE FROM event_log_group WHERE name LIKE 'slow-%'`);
    await c.query(`DELETE FROM event_log_group WHERE name <> $1`, [fastGroup]);
    const trimmed = await bus.trim();
    expect(trimmed).toBeGreaterThanOrEqual(10);
    const { rows } = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM event_log WHERE event->>'id' = ANY($1)`,
      [events.map((e) => e.id)],
    );
    expect(rows[0].n).toBe(0);
  });

  it('should refuse with 429 past maxPending instead of growing without bound', async () => {
    const bus = newBus({ maxPending: 10, commitWindowMs: 50, maxBatch: 1000 });
    const first = bus.publish(Array.from({ length: 8 }, () => ev()));
    await expect(bus.publish(Array.from({ length: 5 }, () => ev()))).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
    });
    await first;
  });
});
