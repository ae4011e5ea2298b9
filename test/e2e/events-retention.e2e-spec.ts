import { fromMicros } from '../../src/common/time/timestamp';
import { EventsRepository } from '../../src/events/events.repository';
import { EventRetentionService } from '../../src/services/event-retention/event-retention.background';
import { wireEvent } from '../factories/event.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';

const DAY_US = 86_400_000_000;

describe('event retention service', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        PREFECT_SERVER_EVENTS_RETENTION_PERIOD: 'P7D',
        PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE: '4',
        PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS: '3600',
        PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES: JSON.stringify({
          'prefect.flow-run.heartbeat': 3600,
          'long.lived': 30 * 86400,
        }),
      },
    });
    // The loop's first pass runs at start; let it finish so it does not race the passes below.
    await expectEventually(() => expect(t.app.get(EventRetentionService).iterations).toBeGreaterThan(0));
  });

  afterAll(async () => {
    await t.close();
  });

  async function seed(name: string, ageUs: number, n: number): Promise<string[]> {
    const now = Date.now() * 1000;
    const events = Array.from({ length: n }, () => {
      const e = wireEvent({ event: name, occurred: fromMicros(now - ageUs) });
      return { ...e, related: e.related!, payload: e.payload!, follows: null, received: e.occurred };
    });
    await t.app.get(EventsRepository).insertMany(events, fromMicros(now));
    return events.map((e) => e.id);
  }

  async function count(table: string, ids: string[]): Promise<number> {
    const col = table === 'events' ? 'id' : 'event_id';
    const [row] = await t.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ${table} WHERE ${col} = ANY($1::uuid[])`,
      [ids],
    );
    return row.n;
  }

  it('should delete events and resources past the retention period in bounded batches, keeping the rest', async () => {
    const old = await seed('some.event', 8 * DAY_US, 10);
    const recent = await seed('some.event', 6 * DAY_US, 3);
    const oldHeartbeats = await seed('prefect.flow-run.heartbeat', 2 * 3600e6, 5);
    const freshHeartbeats = await seed('prefect.flow-run.heartbeat', 600e6, 2);
    const longLived = await seed('long.lived', 8 * DAY_US, 2); // an override above the global is capped by it

    const run = await t.app.get(EventRetentionService).vacuum();

    expect(await count('events', old)).toBe(0);
    expect(await count('event_resources', old)).toBe(0);
    expect(await count('events', oldHeartbeats)).toBe(0);
    expect(await count('event_resources', oldHeartbeats)).toBe(0);
    expect(await count('events', longLived)).toBe(0);
    expect(await count('events', recent)).toBe(3);
    expect(await count('event_resources', recent)).toBe(9);
    expect(await count('events', freshHeartbeats)).toBe(2);
    expect(await count('event_resources', freshHeartbeats)).toBe(6);
    expect(run.events).toBe(17);
    expect(run.resources).toBe(51);
    // 36 old resource rows and 12 old events at 4 per statement, then 5 heartbeats: many short statements.
    expect(run.batches).toBeGreaterThanOrEqual(Math.ceil(36 / 4) + Math.ceil(12 / 4) + Math.ceil(5 / 4));

    const again = await t.app.get(EventRetentionService).vacuum();
    expect(again).toMatchObject({ events: 0, resources: 0 });
  });

  it('should be listed as a service with its own enabled setting', async () => {
    const res = await fetch(`${t.baseUrl}/api/ready`);
    const body = (await res.json()) as { services: { name: string; env_var: string; status: string }[] };
    expect(body.services).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'EventRetention',
          env_var: 'PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED',
          status: 'running',
        }),
        expect.objectContaining({
          name: 'EventPersister',
          env_var: 'PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED',
          status: 'running',
        }),
      ]),
    );
  });
});
