import { Client } from 'pg';
import request from 'supertest';
import { MetricsService } from '../../src/common/metrics/metrics.service';
import { EventPersister } from '../../src/services/event-persister/event-persister.background';
import { wireEvent } from '../factories/event.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';

async function countRows(t: TestApp, table: 'events' | 'event_resources', ids?: string[]): Promise<number> {
  const col = table === 'events' ? 'id' : 'event_id';
  const rows = ids
    ? await t.dataSource.query(`SELECT count(*) AS n FROM ${table} WHERE ${col} = ANY($1::uuid[])`, [ids])
    : await t.dataSource.query(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0].n);
}

describe('POST /api/events and the event persister', () => {
  describe('with a small batch size', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await createTestApp({
        env: {
          PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '5',
          PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '3600',
        },
      });
    });

    afterAll(async () => {
      await t.close();
    });

    it('should store events with their resource rows once a batch is full', async () => {
      const events = Array.from({ length: 5 }, () => wireEvent());
      const before = new Date().toISOString().replace('Z', '000Z');
      await request(t.baseUrl).post('/api/events').send(events).expect(204);
      const after = new Date().toISOString().replace('Z', '999Z');
      const ids = events.map((e) => e.id);
      await expectEventually(async () => expect(await countRows(t, 'events', ids)).toBe(5));
      expect(await countRows(t, 'event_resources', ids)).toBe(15);

      const [row] = await t.dataSource.query(
        `SELECT id, occurred, event, resource_id, resource, related_resource_ids, related, payload, received, recorded, follows FROM events WHERE id = $1`,
        [events[0].id],
      );
      expect(row).toMatchObject({
        id: events[0].id,
        occurred: events[0].occurred.replace('Z', '000Z'),
        event: 'prefect.task-run.Completed',
        resource_id: events[0].resource['prefect.resource.id'],
        resource: events[0].resource,
        related_resource_ids: events[0].related!.map((r) => r['prefect.resource.id']),
        related: events[0].related,
        payload: events[0].payload,
        follows: null,
      });
      // Canonical µs timestamps of one width compare as strings: received is stamped by the server while
      // the POST was in flight (after the client's occurred), recorded once the persister stored it.
      for (const col of ['occurred', 'received', 'recorded']) {
        expect(row[col]).toMatch(/^\d{4}-.*T.*\.\d{6}Z$/);
      }
      expect(row.occurred <= before).toBe(true);
      expect(row.received >= before && row.received <= after).toBe(true);
      expect(row.recorded >= row.received).toBe(true);

      const resources = await t.dataSource.query(
        `SELECT resource_id, resource_role, resource, occurred FROM event_resources WHERE event_id = $1 ORDER BY resource_role`,
        [events[0].id],
      );
      expect(resources).toEqual([
        {
          resource_id: events[0].resource['prefect.resource.id'],
          resource_role: '',
          resource: {
            'prefect.resource.name': events[0].resource['prefect.resource.name'],
            'prefect.state-type': 'COMPLETED',
          },
          occurred: row.occurred,
        },
        {
          resource_id: events[0].related![0]['prefect.resource.id'],
          resource_role: 'flow-run',
          resource: { 'prefect.resource.name': 'flow' },
          occurred: row.occurred,
        },
        { resource_id: 'prefect.tag.demo', resource_role: 'tag', resource: {}, occurred: row.occurred },
      ]);
    });

    it('should keep fewer than a batch buffered until the next flush', async () => {
      const persister = t.app.get(EventPersister);
      const events = Array.from({ length: 3 }, () => wireEvent());
      await request(t.baseUrl).post('/api/events').send(events).expect(204);
      await expectEventually(() => expect(persister.depth).toBe(3));
      expect(
        await countRows(
          t,
          'events',
          events.map((e) => e.id),
        ),
      ).toBe(0);
      await persister.flush();
      expect(
        await countRows(
          t,
          'events',
          events.map((e) => e.id),
        ),
      ).toBe(3);
    });

    it('should store a duplicate id once, with its resources once', async () => {
      const event = wireEvent();
      const persister = t.app.get(EventPersister);
      // Two deliveries of the same id (e.g. a redelivery after a crash) reach the database.
      await Promise.all([
        persister.handle({
          ...event,
          related: event.related!,
          payload: {},
          follows: null,
          received: event.occurred,
        }),
        persister.flush(),
      ]);
      const again = persister.handle({
        ...event,
        related: event.related!,
        payload: {},
        follows: null,
        received: event.occurred,
      });
      await persister.flush();
      await again;
      expect(await countRows(t, 'events', [event.id])).toBe(1);
      expect(await countRows(t, 'event_resources', [event.id])).toBe(3);
    });

    it('should normalise timestamps with offsets to UTC with microseconds', async () => {
      const events = Array.from({ length: 5 }, () =>
        wireEvent({ occurred: '2026-03-04T05:06:07.123456+02:00' }),
      );
      await request(t.baseUrl).post('/api/events').send(events).expect(204);
      await expectEventually(async () =>
        expect(
          await countRows(
            t,
            'events',
            events.map((e) => e.id),
          ),
        ).toBe(5),
      );
      const [row] = await t.dataSource.query(`SELECT occurred FROM events WHERE id = $1`, [events[0].id]);
      expect(row.occurred).toBe('2026-03-04T03:06:07.123456Z');
    });

    it('should refuse invalid events with a 422 naming each problem, storing none of the batch', async () => {
      const good = wireEvent();
      const res = await request(t.baseUrl)
        .post('/api/events')
        .send([
          good,
          { ...wireEvent(), resource: { 'prefect.resource.name': 'no id' } },
          { ...wireEvent(), related: [{ 'prefect.resource.id': 'x' }] },
          { ...wireEvent(), event: 'x'.repeat(1025) },
          { ...wireEvent(), occurred: 'yesterday' },
          { ...wireEvent(), id: undefined },
          { ...wireEvent(), resource: { 'prefect.resource.id': 'a', n: 1 } },
        ])
        .expect(422);
      const locs = (res.body.exception_detail as { loc: unknown[] }[]).map((d) => d.loc);
      expect(locs).toEqual(
        expect.arrayContaining([
          ['body', 1, 'resource'],
          ['body', 2, 'related', 0],
          ['body', 3, 'event'],
          ['body', 4, 'occurred'],
          ['body', 5, 'id'],
          ['body', 6, 'resource', 'n'],
        ]),
      );
      expect(res.body.exception_detail[0].msg).toContain('prefect.resource.id');
      await request(t.baseUrl).post('/api/events').send({ not: 'a list' }).expect(422);
      expect(t.app.get(EventPersister).depth).toBe(0);
      expect(await countRows(t, 'events', [good.id])).toBe(0);
    });

    it('should refuse more related resources or labels than the limits allow', async () => {
      const related = Array.from({ length: 101 }, (_, i) => ({
        'prefect.resource.id': `r${i}`,
        'prefect.resource.role': 'x',
      }));
      const res = await request(t.baseUrl)
        .post('/api/events')
        .send([wireEvent({ related })])
        .expect(422);
      expect(res.body.exception_detail[0].msg).toContain('maximum number of related resources is 100');
      const resource: Record<string, string> = { 'prefect.resource.id': 'r' };
      for (let i = 0; i < 500; i++) {
        resource[`l${i}`] = 'v';
      }
      const res2 = await request(t.baseUrl)
        .post('/api/events')
        .send([wireEvent({ resource })])
        .expect(422);
      expect(res2.body.exception_detail[0].msg).toContain('maximum number of labels per resource is 500');
    });

    it('should expose persister and bus figures as metrics', async () => {
      const events = Array.from({ length: 5 }, () => wireEvent());
      await request(t.baseUrl).post('/api/events').send(events).expect(204);
      await expectEventually(async () =>
        expect(
          await countRows(
            t,
            'events',
            events.map((e) => e.id),
          ),
        ).toBe(5),
      );
      // The bus's backlog counts from the group's saved position, written shortly after the batch settled.
      await expectEventually(async () =>
        expect((await t.app.get(MetricsService).render()).body).toMatch(
          /prefect_event_bus_backlog\{group="event-persister"\} 0/,
        ),
      );
      const { body } = await t.app.get(MetricsService).render();
      for (const name of [
        'prefect_event_persister_batch_size_bucket',
        'prefect_event_persister_flush_duration_seconds_bucket',
        'prefect_event_persister_lag_seconds_bucket',
        'prefect_event_persister_queue_depth',
        'prefect_events_ingested_total',
      ]) {
        expect(body).toContain(name);
      }
      expect(body).toMatch(/prefect_event_persister_events_total\{outcome="stored"\} \d+/);
      expect(body).toMatch(/prefect_events_refused_total\{reason="invalid"\} \d+/);
    });

    it('should ignore extra keys such as account and workspace', async () => {
      const events = Array.from({ length: 5 }, () => wireEvent({ account: 'a', workspace: 'w' }));
      await request(t.baseUrl).post('/api/events').send(events).expect(204);
      await expectEventually(async () =>
        expect(
          await countRows(
            t,
            'events',
            events.map((e) => e.id),
          ),
        ).toBe(5),
      );
    });
  });

  it('should refuse an oversized event with a clear detail', async () => {
    const t = await createTestApp({ env: { PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES: '2000' } });
    try {
      const res = await request(t.baseUrl)
        .post('/api/events')
        .send([wireEvent(), wireEvent({ payload: { blob: 'x'.repeat(3000) } })])
        .expect(422);
      expect(res.body.detail).toMatch(
        /^Event at index 1 refused: Event is too large: \d+ bytes exceeds the maximum of 2000 bytes/,
      );
    } finally {
      await t.close();
    }
  });

  it('should flush by time when the batch is not full', async () => {
    const t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1000',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.2',
      },
    });
    try {
      const event = wireEvent();
      await request(t.baseUrl).post('/api/events').send([event]).expect(204);
      await expectEventually(async () => expect(await countRows(t, 'events', [event.id])).toBe(1), {
        timeoutMs: 3000,
      });
    } finally {
      await t.close();
    }
  });

  it('should answer 429 with Retry-After while the persister buffer is full', async () => {
    const t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1000',
        // No timed flush during the test (it would make room and turn the 429 into a 204).
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '3600',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_QUEUE_MAX_SIZE: '3',
      },
    });
    try {
      const events = Array.from({ length: 3 }, () => wireEvent());
      await request(t.baseUrl).post('/api/events').send(events).expect(204);
      await expectEventually(() => expect(t.app.get(EventPersister).depth).toBe(3));
      // The persister holds 3 unsettled events: its group is 3 behind (measured every 250 ms).
      let res!: request.Response;
      await expectEventually(async () => {
        res = await request(t.baseUrl).post('/api/events').send([]).expect(429);
      });
      expect(res.headers['retry-after']).toBe('3600'); // the persister's flush interval
      expect(res.body.detail).toContain("Event queue full: 'event-persister' is 3 events behind (3/3)");
      await t.app.get(EventPersister).flush();
      await expectEventually(() => request(t.baseUrl).post('/api/events').send([wireEvent()]).expect(204));
      expect(
        await countRows(
          t,
          'events',
          events.map((e) => e.id),
        ),
      ).toBe(3);
    } finally {
      await t.close();
    }
  });

  it('should flush what is buffered on shutdown, before the database closes', async () => {
    const t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1000',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '3600',
      },
    });
    const events = Array.from({ length: 7 }, () => wireEvent());
    await request(t.baseUrl).post('/api/events').send(events).expect(204);
    await expectEventually(() => expect(t.app.get(EventPersister).depth).toBe(7));
    await t.close();
    const client = new Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM events WHERE id = ANY($1::uuid[])`,
        [events.map((e) => e.id)],
      );
      expect(rows[0].n).toBe(7);
    } finally {
      await client.end();
    }
  });

  it('should refuse events with 503 once the persister is shutting down (in-memory bus)', async () => {
    const t = await createTestApp({ env: { PREFECT_SERVER_EVENTS_MESSAGING_BROKER: 'memory' } });
    try {
      await t.app.get(EventPersister).stop();
      const res = await request(t.baseUrl).post('/api/events').send([wireEvent()]).expect(503);
      expect(res.body).toEqual({ exception_message: 'Shutting down: events are not accepted any more' });
    } finally {
      await t.close();
    }
  });

  it('should retry a failing batch, then move it to the dead-letter table, and replay it from there', async () => {
    const t = await createTestApp({
      env: {
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '2',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '0.1',
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_MAX_FLUSH_RETRIES: '3',
      },
    });
    try {
      await t.dataSource.query(`ALTER TABLE event_resources RENAME TO event_resources_away`);
      const events = [wireEvent(), wireEvent()];
      await request(t.baseUrl).post('/api/events').send(events).expect(204);
      const letters = await expectEventually(async () => {
        const res = await request(t.baseUrl)
          .get('/api/admin/dead_letters?source=event-persister')
          .expect(200);
        expect(res.body).toHaveLength(2);
        return res.body as { id: string; attempts: number; reason: string; payload: { id: string } }[];
      });
      expect(letters.map((l) => l.payload.id).sort()).toEqual(events.map((e) => e.id).sort());
      expect(letters[0].attempts).toBe(3);
      expect(letters[0].reason).toContain('event_resources');
      expect(t.app.get(EventPersister).depth).toBe(0);

      await t.dataSource.query(`ALTER TABLE event_resources_away RENAME TO event_resources`);
      await request(t.baseUrl).post(`/api/admin/dead_letters/${letters[0].id}/replay`).expect(200);
      expect(await countRows(t, 'events', [letters[0].payload.id])).toBe(1);
      expect(await countRows(t, 'event_resources', [letters[0].payload.id])).toBe(3);
    } finally {
      await t.close();
    }
  });
});
