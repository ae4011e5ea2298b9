import request from 'supertest';
import { fromMicros } from '../../src/common/time/timestamp';
import { EventsRepository } from '../../src/events/events.repository';
import { EventPersister } from '../../src/services/event-persister/event-persister.background';
import { wireEvent } from '../factories/event.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { TestSocket } from '../utils/ws-client';

async function stored(t: TestApp, ids: string[]): Promise<number> {
  const [row] = await t.dataSource.query(`SELECT count(*) AS n FROM events WHERE id = ANY($1::uuid[])`, [
    ids,
  ]);
  return Number(row.n);
}

describe('event websockets', () => {
  describe('WS /api/events/in', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ env: { PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1' } });
    });
    afterAll(async () => {
      await t.close();
    });

    it('should accept events after the auth handshake and store them', async () => {
      const s = await TestSocket.open(`${t.wsUrl}/api/events/in`);
      s.send({ type: 'auth', token: null });
      await expectEventually(() => expect(s.messages).toEqual([{ type: 'auth_success' }]));
      const events = [wireEvent(), wireEvent(), wireEvent()];
      for (const e of events) {
        s.send(e);
      }
      await expectEventually(async () =>
        expect(
          await stored(
            t,
            events.map((e) => e.id),
          ),
        ).toBe(3),
      );
      expect(s.closed).toBeUndefined();
      await s.close();
    });

    it('should accept events in legacy mode (no subprotocol, no auth message)', async () => {
      const s = await TestSocket.open(`${t.wsUrl}/api/events/in`, []);
      const e = wireEvent();
      s.send(e);
      await expectEventually(async () => expect(await stored(t, [e.id])).toBe(1));
      await s.close();
    });

    it('should close 1008 when the first message is not auth', async () => {
      const s = await TestSocket.open(`${t.wsUrl}/api/events/in`);
      s.send(wireEvent());
      await expectEventually(() =>
        expect(s.closed).toEqual({ code: 1008, reason: "Expected 'auth' message" }),
      );
    });

    it('should refuse an invalid event by closing 1007 with the reason', async () => {
      const s = await TestSocket.open(`${t.wsUrl}/api/events/in`);
      s.send({ type: 'auth', token: null });
      s.send({ ...wireEvent(), resource: { 'prefect.resource.name': 'x' } });
      await expectEventually(() => expect(s.closed?.code).toBe(1007));
      expect(s.closed!.reason).toContain('Invalid event: resource');
      expect(s.closed!.reason).toContain('prefect.resource.id');
    });
  });

  it('should require the auth string on both sockets when one is set', async () => {
    const t = await createTestApp({ env: { PREFECT_SERVER_API_AUTH_STRING: 'sekret' } });
    try {
      for (const path of ['/api/events/in', '/api/events/out']) {
        const legacy = await TestSocket.open(`${t.wsUrl}${path}`, []);
        await expectEventually(() => expect(legacy.closed?.code).toBe(1002));
        const wrong = await TestSocket.open(`${t.wsUrl}${path}`);
        wrong.send({ type: 'auth', token: 'nope' });
        await expectEventually(() => expect(wrong.closed).toEqual({ code: 1008, reason: 'Invalid token' }));
        const missing = await TestSocket.open(`${t.wsUrl}${path}`);
        missing.send({ type: 'auth' });
        await expectEventually(() =>
          expect(missing.closed).toEqual({ code: 1008, reason: 'Auth required but no token provided' }),
        );
        const ok = await TestSocket.open(`${t.wsUrl}${path}`);
        ok.send({ type: 'auth', token: 'sekret' });
        await expectEventually(() => expect(ok.messages).toEqual([{ type: 'auth_success' }]));
        await ok.close();
      }
    } finally {
      await t.close();
    }
  });

  it('should stop reading /events/in while the persister is full, losing nothing', async () => {
    const t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1000',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '3600',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_QUEUE_MAX_SIZE: '2',
      },
    });
    try {
      const persister = t.app.get(EventPersister);
      const s = await TestSocket.open(`${t.wsUrl}/api/events/in`);
      s.send({ type: 'auth', token: null });
      const events = Array.from({ length: 6 }, () => wireEvent());
      for (const e of events) {
        s.send(e);
      }
      await expectEventually(() => expect(persister.depth).toBe(2));
      await expectEventually(() => request(t.baseUrl).post('/api/events').send([wireEvent()]).expect(429));
      await expectEventually(async () => {
        await persister.flush();
        expect(
          await stored(
            t,
            events.map((e) => e.id),
          ),
        ).toBe(6);
      });
      expect(s.closed).toBeUndefined();
      await s.close();
    } finally {
      await t.close();
    }
  });

  describe('WS /api/events/out', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ env: { PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1' } });
    });
    afterAll(async () => {
      await t.close();
    });

    async function subscribe(filter: unknown, backfill?: boolean): Promise<TestSocket> {
      const s = await TestSocket.open(`${t.wsUrl}/api/events/out`);
      s.send({ type: 'auth', token: null });
      await expectEventually(() => expect(s.messages).toEqual([{ type: 'auth_success' }]));
      s.messages.length = 0;
      s.send({ type: 'filter', filter, ...(backfill === undefined ? {} : { backfill }) });
      return s;
    }

    const ids = (s: TestSocket) => s.messages.map((m) => (m as { event: { id: string } }).event.id);

    it('should backfill stored matches within the backfill window in ascending order, then stream live ones', async () => {
      const nowUs = Date.now() * 1000;
      const old = { ...wireEvent({ event: 'out.test.a', occurred: fromMicros(nowUs - 20 * 60e6) }) };
      const recent1 = wireEvent({ event: 'out.test.a', occurred: fromMicros(nowUs - 5 * 60e6) });
      const recent2 = wireEvent({ event: 'out.test.a', occurred: fromMicros(nowUs - 60e6) });
      const other = wireEvent({ event: 'other.thing', occurred: fromMicros(nowUs - 60e6) });
      await t.app.get(EventsRepository).insertMany(
        [recent2, old, other, recent1].map((e) => ({
          ...e,
          related: e.related!,
          payload: e.payload!,
          follows: null,
          received: e.occurred,
        })),
        fromMicros(nowUs),
      );
      const s = await subscribe({ event: { prefix: ['out.test.'] } });
      await expectEventually(() => expect(ids(s)).toEqual([recent1.id, recent2.id]));
      expect(s.messages[0]).toMatchObject({
        type: 'event',
        event: { id: recent1.id, event: 'out.test.a', received: recent1.occurred },
      });

      const live = wireEvent({ event: 'out.test.b' });
      await request(t.baseUrl)
        .post('/api/events')
        .send([wireEvent({ event: 'other.live' }), live])
        .expect(204);
      await expectEventually(() => expect(ids(s)).toEqual([recent1.id, recent2.id, live.id]));
      await s.close();
    });

    it('should skip the backfill when asked, and never send an event twice', async () => {
      const s = await subscribe({ event: { prefix: ['nobf.'] } }, false);
      const e = wireEvent({ event: 'nobf.x' });
      await request(t.baseUrl).post('/api/events').send([e]).expect(204);
      await expectEventually(() => expect(ids(s)).toEqual([e.id]));
      // The same id again (a client retry) is deduped: still one frame.
      await request(t.baseUrl).post('/api/events').send([e]).expect(204);
      const marker = wireEvent({ event: 'nobf.marker' });
      await request(t.baseUrl).post('/api/events').send([marker]).expect(204);
      await expectEventually(() => expect(ids(s)).toEqual([e.id, marker.id]));
      await s.close();
    });

    it('should close 1002 on a first message that is not a filter, or an invalid filter', async () => {
      const s = await TestSocket.open(`${t.wsUrl}/api/events/out`);
      s.send({ type: 'auth', token: null });
      s.send({ type: 'subscribe' });
      await expectEventually(() =>
        expect(s.closed).toEqual({ code: 1002, reason: "Expected 'filter' message" }),
      );
      const bad = await TestSocket.open(`${t.wsUrl}/api/events/out`);
      bad.send({ type: 'auth', token: null });
      bad.send({ type: 'filter', filter: { occurred: { since: 'nope' } } });
      await expectEventually(() => expect(bad.closed?.code).toBe(1002));
      expect(bad.closed!.reason).toMatch(
        /^Invalid filter: filter\.occurred\.since: Input should be a valid datetime/,
      );
    });
  });
});
