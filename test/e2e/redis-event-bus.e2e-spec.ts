import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { EventBus } from '../../src/events/bus/event-bus';
import { RedisEventBus } from '../../src/events/bus/redis-event-bus';
import { ReceivedEvent } from '../../src/events/event.types';
import { EventPersister } from '../../src/services/event-persister/event-persister.background';
import { wireEvent } from '../factories/event.factory';
import { createTestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';

const REDIS_URL = 'redis://127.0.0.1:6379';

function received(): ReceivedEvent {
  const e = wireEvent();
  return { ...e, related: e.related!, payload: e.payload!, follows: null, received: e.occurred };
}

describe('RedisEventBus (real Redis)', () => {
  const buses: RedisEventBus[] = [];
  let stream: string;
  let admin: Redis;

  const bus = (
    opts: ConstructorParameters<typeof RedisEventBus>[1] = {},
    observer?: ConstructorParameters<typeof RedisEventBus>[2],
  ) => {
    const b = new RedisEventBus(
      REDIS_URL,
      { stream, blockMs: 50, claimIdleMs: 300, retryDelayMs: 10, trimEveryMs: 0, ...opts },
      observer,
    );
    buses.push(b);
    return b;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });

  beforeEach(() => {
    stream = `test:events:${randomUUID()}`;
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.onApplicationShutdown()));
    const keys = await admin.keys(`${stream}*`);
    if (keys.length) {
      await admin.del(...keys);
    }
  });

  afterAll(async () => {
    await admin.quit();
  });

  it('should give each event to exactly one of two consumers in a group, and every event to every group', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const other: string[] = [];
    const replicaA = bus();
    const replicaB = bus();
    await replicaA.subscribe((e) => Promise.resolve(void a.push(e.id)), {
      group: 'event-persister',
      maxInFlight: 10,
    });
    await replicaB.subscribe((e) => Promise.resolve(void b.push(e.id)), {
      group: 'event-persister',
      maxInFlight: 10,
    });
    await replicaB.subscribe((e) => Promise.resolve(void other.push(e.id)), {
      group: 'task-run-recorder',
      maxInFlight: 10,
    });
    const events = Array.from({ length: 200 }, received);
    for (let i = 0; i < events.length; i += 20) {
      await replicaA.publish(events.slice(i, i + 20));
    }
    const all = events.map((e) => e.id).sort();
    await expectEventually(() => expect([...a, ...b].sort()).toEqual(all));
    await expectEventually(() => expect([...other].sort()).toEqual(all));
    expect(new Set([...a, ...b]).size).toBe(200);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    await expectEventually(async () =>
      expect(await replicaA.backlog()).toEqual({ 'event-persister': 0, 'task-run-recorder': 0 }),
    );
  });

  it("should let another consumer claim a killed consumer's pending events", async () => {
    const doomed = bus();
    const survivor = bus();
    const taken: string[] = [];
    await doomed.subscribe(() => new Promise<void>(() => void taken.push('x')), {
      group: 'g',
      maxInFlight: 100,
    });
    const events = Array.from({ length: 5 }, received);
    await doomed.publish(events);
    await expectEventually(() => expect(taken.length).toBe(5));
    doomed.abandon(); // the process dies: nothing acked, nothing refreshed

    const got: string[] = [];
    await survivor.subscribe((e) => Promise.resolve(void got.push(e.id)), { group: 'g', maxInFlight: 100 });
    await expectEventually(() => expect(got.sort()).toEqual(events.map((e) => e.id).sort()), {
      timeoutMs: 5000,
    });
    await expectEventually(async () => expect((await survivor.backlog()).g).toBe(0));
  });

  it('should not let others claim events a live consumer is still working on', async () => {
    // A claim idle time with room for a busy machine: the heartbeat (every third of it) may run late by
    // up to two thirds of it before another consumer could take the entries.
    const claimIdleMs = 1000;
    const slow = bus({ claimIdleMs });
    const other = bus({ claimIdleMs });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slowGot: string[] = [];
    const otherGot: string[] = [];
    await slow.subscribe(
      async (e) => {
        slowGot.push(e.id);
        await gate;
      },
      { group: 'g', maxInFlight: 10 },
    );
    try {
      const events = Array.from({ length: 3 }, received);
      await slow.publish(events);
      await expectEventually(() => expect(slowGot.length).toBe(3));
      await other.subscribe((e) => Promise.resolve(void otherGot.push(e.id)), {
        group: 'g',
        maxInFlight: 10,
      });
      // Watch the group for twice the claim idle time (the other consumer tries to claim every third of it):
      // the entries stay with one consumer, delivered once, because its heartbeats keep them fresh.
      const watchUntil = Date.now() + 2 * claimIdleMs;
      let checks = 0;
      while (Date.now() < watchUntil || checks < 2) {
        const pending = (await admin.xpending(stream, 'g', '-', '+', 10)) as [
          string,
          string,
          number,
          number,
        ][];
        expect(pending.map(([, consumer, , deliveries]) => [consumer, deliveries])).toEqual(
          pending.map(() => [pending[0][1], 1]),
        );
        expect(pending).toHaveLength(3);
        expect(otherGot).toEqual([]);
        checks++;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      release(); // else the bus's shutdown waits for the held handler
    }
    await expectEventually(async () => expect((await slow.backlog()).g).toBe(0));
  });

  it('should redeliver after a rejection, then dead-letter and acknowledge', async () => {
    const dead: [string, string, number][] = [];
    const b = bus(
      { maxRetries: 2 },
      { deadLetter: (group, e, attempts) => Promise.resolve(void dead.push([group, e.id, attempts])) },
    );
    const calls: string[] = [];
    await b.subscribe(
      (e) => {
        calls.push(e.id);
        return Promise.reject(new Error('nope'));
      },
      { group: 'g' },
    );
    const e = received();
    await b.publish([e]);
    await expectEventually(() => expect(dead).toEqual([['g', e.id, 3]]));
    expect(calls).toEqual([e.id, e.id, e.id]);
    await expectEventually(async () => expect((await b.backlog()).g).toBe(0));
  });

  it('should dedupe published events by id, and trim what every durable group acknowledged', async () => {
    const b = bus();
    const got: string[] = [];
    await b.subscribe((e) => Promise.resolve(void got.push(e.id)), { group: 'g', maxInFlight: 10 });
    const e = received();
    await b.publish([e, e]);
    await b.publish([e]);
    const marker = received();
    await b.publish([marker]);
    await expectEventually(() => expect(got).toEqual([e.id, marker.id]));
    await expectEventually(async () => expect((await b.backlog()).g).toBe(0));
    expect(await admin.xlen(stream)).toBe(2);
    await b.trim();
    expect(await admin.xlen(stream)).toBe(0);

    // A group holding an unacknowledged entry keeps it (and what follows) in the stream.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await b.subscribe(() => gate, { group: 'stuck', maxInFlight: 10 });
    const kept = received();
    await b.publish([kept]);
    await expectEventually(() => expect(got).toContain(kept.id));
    await expectEventually(async () => expect((await b.backlog()).g).toBe(0));
    await b.trim();
    expect(await admin.xlen(stream)).toBe(1);
    release();
  });

  it('should carry events from one replica through Redis to the persister of another, each stored once', async () => {
    const env = {
      PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
      REDIS_URL,
      PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '5',
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.1',
    };
    // An API-only replica (no persister) and two replicas running the persister, on one database.
    const api = await createTestApp({
      env: { ...env, PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: 'false' },
    });
    const w1 = await createTestApp({ env, databaseUrl: api.databaseUrl });
    const w2 = await createTestApp({ env, databaseUrl: api.databaseUrl });
    try {
      const events = Array.from({ length: 40 }, () => wireEvent());
      await request(api.baseUrl).post('/api/events').send(events.slice(0, 20)).expect(204);
      await request(api.baseUrl).post('/api/events').send(events.slice(20)).expect(204);
      await expectEventually(async () => {
        const [row] = await api.dataSource.query(`SELECT count(*)::int AS n FROM events`);
        expect(row.n).toBe(40);
      });
      const [res] = await api.dataSource.query(`SELECT count(*)::int AS n FROM event_resources`);
      expect(res.n).toBe(120);
      const metrics = await admin.xinfo('GROUPS', stream);
      expect(JSON.stringify(metrics)).toContain('event-persister');
    } finally {
      await w2.close();
      await w1.close();
      await api.close();
    }
  });

  it('should lose nothing a crashed persister had buffered: another replica claims and stores it, once', async () => {
    const env = {
      PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
      REDIS_URL,
      PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
      PREFECT_SERVER_EVENTS_REDIS_CLAIM_IDLE: '0.3',
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1000',
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '3600',
    };
    const doomed = await createTestApp({ env });
    let survivor: Awaited<ReturnType<typeof createTestApp>> | undefined;
    try {
      const events = Array.from({ length: 10 }, () => wireEvent());
      await request(doomed.baseUrl).post('/api/events').send(events).expect(204);
      await expectEventually(() => expect(doomed.app.get(EventPersister).depth).toBe(10));
      // The replica "dies": its Redis connections drop with nothing acknowledged, its buffer never flushed.
      doomed.app.get<EventBus, RedisEventBus>(EventBus).abandon();

      survivor = await createTestApp({
        env: { ...env, PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.1' },
        databaseUrl: doomed.databaseUrl,
      });
      await expectEventually(async () => {
        const [row] = await survivor!.dataSource.query(`SELECT count(*)::int AS n FROM events`);
        expect(row.n).toBe(10);
      });
      expect(doomed.app.get(EventPersister).depth).toBe(10); // proof the survivor got them from Redis
    } finally {
      await survivor?.close();
      await doomed.close(); // its late flush writes the same ids again: no duplicates, no extra resources
    }
    const check = await createTestApp({ databaseUrl: doomed.databaseUrl, listen: false });
    try {
      const [row] = await check.dataSource.query(
        `SELECT (SELECT count(*) FROM events)::int AS e, (SELECT count(*) FROM event_resources)::int AS r`,
      );
      expect(row).toEqual({ e: 10, r: 30 });
    } finally {
      await check.close();
    }
  });

  it('should answer 429 on an API-only replica while the persisters lag more than the queue size', async () => {
    await admin.xgroup('CREATE', stream, 'event-persister', '$', 'MKSTREAM'); // persisters exist, all stopped
    const api = await createTestApp({
      env: {
        PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'redis',
        REDIS_URL,
        PREFECT_SERVER_EVENTS_REDIS_STREAM: stream,
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: 'false',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_QUEUE_MAX_SIZE: '3',
      },
    });
    try {
      await request(api.baseUrl).post('/api/events').send([wireEvent(), wireEvent()]).expect(204);
      await request(api.baseUrl).post('/api/events').send([wireEvent(), wireEvent()]).expect(204);
      const res = await expectEventually(
        async () => request(api.baseUrl).post('/api/events').send([wireEvent()]).expect(429),
        {
          timeoutMs: 5000,
          intervalMs: 100,
        },
      );
      expect(res.headers['retry-after']).toBe('5'); // the persisters' flush interval: the pace a backlog drains
      expect(res.body.detail).toMatch(/Event queue full: 'event-persister' is \d+ events behind \(\d+\/3\)/);
    } finally {
      await api.close();
    }
  });
});
