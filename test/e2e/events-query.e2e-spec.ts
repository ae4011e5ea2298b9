import request from 'supertest';
import { fromMicros } from '../../src/common/time/timestamp';
import { ReceivedEvent } from '../../src/events/event.types';
import { EventsRepository } from '../../src/events/events.repository';
import { eventMatches } from '../../src/events/filters/match';
import { parseEventFilter } from '../../src/events/filters/parse';
import { createTestApp, TestApp } from '../utils/create-test-app';

const HOUR_US = 3_600_000_000;

function id(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

describe('event queries: /api/events/filter, /filter/next, /count-by', () => {
  let t: TestApp;
  // A fixed hour in the recent past, so the default `occurred` window (180 days back) holds every event.
  const base = Math.floor((Date.now() * 1000) / HOUR_US) * HOUR_US - 10 * HOUR_US;
  const at = (minutes: number) => fromMicros(base + minutes * 60_000_000);

  const events: ReceivedEvent[] = [
    {
      id: id(1),
      occurred: at(0),
      event: 'prefect.flow-run.Running',
      resource: {
        'prefect.resource.id': 'prefect.flow-run.a',
        'prefect.resource.name': 'alpha',
        env: 'prod',
      },
      related: [
        {
          'prefect.resource.id': 'prefect.flow.f1',
          'prefect.resource.role': 'flow',
          'prefect.resource.name': 'etl',
        },
        { 'prefect.resource.id': 'prefect.tag.nightly', 'prefect.resource.role': 'tag' },
      ],
      payload: { message: 'the quick brown fox' },
      received: at(0),
      follows: null,
    },
    {
      id: id(2),
      occurred: at(10),
      event: 'prefect.flow-run.Completed',
      resource: {
        'prefect.resource.id': 'prefect.flow-run.a',
        'prefect.resource.name': 'alpha',
        env: 'prod',
      },
      related: [
        {
          'prefect.resource.id': 'prefect.flow.f1',
          'prefect.resource.role': 'flow',
          'prefect.resource.name': 'etl',
        },
      ],
      payload: { message: 'lazy dog' },
      received: at(10),
      follows: id(1),
    },
    {
      id: id(3),
      occurred: at(70),
      event: 'prefect.task-run.Running',
      resource: { 'prefect.resource.id': 'prefect.task-run.b', 'prefect.name': 'beta', env: 'dev' },
      related: [{ 'prefect.resource.id': 'prefect.flow-run.a', 'prefect.resource.role': 'flow-run' }],
      payload: {},
      received: at(70),
      follows: null,
    },
    {
      id: id(4),
      occurred: at(130),
      event: 'custom.thing',
      resource: { 'prefect.resource.id': 'custom.c' },
      related: [],
      payload: { note: 'quick fix' },
      received: at(130),
      follows: null,
    },
  ];

  /** Asks the API, and checks that the in-memory matcher used by /events/out agrees with the SQL. */
  async function filter(f: unknown, extra: Record<string, unknown> = {}): Promise<string[]> {
    const res = await request(t.baseUrl)
      .post('/api/events/filter')
      .send({ filter: f, ...extra })
      .expect(200);
    const ids: string[] = (res.body.events as { id: string }[]).map((e) => e.id);
    const parsed = parseEventFilter(f, Date.now() * 1000);
    if (!parsed.resource?.distinct && extra.limit === undefined) {
      const mirrored = events
        .filter((e) => eventMatches(parsed, e))
        .sort((a, b) => (parsed.order === 'ASC' ? 1 : -1) * a.occurred.localeCompare(b.occurred))
        .map((e) => e.id);
      expect(mirrored).toEqual(ids);
    }
    return ids;
  }

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.get(EventsRepository).insertMany(events, fromMicros(base + 200 * 60_000_000));
  });

  afterAll(async () => {
    await t.close();
  });

  it('should return matching events newest first, with their total and no next page when all fit', async () => {
    const res = await request(t.baseUrl).post('/api/events/filter').send({}).expect(200);
    expect(res.body.total).toBe(4);
    expect(res.body.next_page).toBeNull();
    expect((res.body.events as { id: string }[]).map((e) => e.id)).toEqual([id(4), id(3), id(2), id(1)]);
    expect(res.body.events[2]).toEqual({
      id: id(2),
      occurred: at(10),
      event: 'prefect.flow-run.Completed',
      resource: events[1].resource,
      related: events[1].related,
      payload: { message: 'lazy dog' },
      follows: id(1),
      received: at(10),
    });
  });

  it('should page with a double-base64 next_page token, and refuse a bad token with 403', async () => {
    const first = await request(t.baseUrl)
      .post('/api/events/filter')
      .send({ limit: 3, filter: { order: 'ASC' } })
      .expect(200);
    expect((first.body.events as { id: string }[]).map((e) => e.id)).toEqual([id(1), id(2), id(3)]);
    expect(first.body.total).toBe(4);
    const next = first.body.next_page as string;
    expect(next).toMatch(new RegExp(`^${t.baseUrl}/api/events/filter/next\\?page-token=`));
    const token = new URL(next).searchParams.get('page-token')!;
    const inner = JSON.parse(Buffer.from(Buffer.from(token, 'base64').toString(), 'base64').toString());
    expect(inner).toMatchObject({ count: 4, page_size: 3, offset: 3 });

    const second = await request(t.baseUrl).get(next.slice(t.baseUrl.length)).expect(200);
    expect((second.body.events as { id: string }[]).map((e) => e.id)).toEqual([id(4)]);
    expect(second.body.next_page).toBeNull();
    expect(second.body.total).toBe(4);

    await request(t.baseUrl).get('/api/events/filter/next?page-token=').expect(403);
    await request(t.baseUrl).get('/api/events/filter/next').expect(403);
    await request(t.baseUrl).get('/api/events/filter/next?page-token=bm90IGJhc2U2NA').expect(403);
    await request(t.baseUrl)
      .get(`/api/events/filter/next?page-token=${Buffer.from('!!!').toString('base64')}`)
      .expect(403);
  });

  it('should refuse a limit over 50, a negative limit and unknown filter keys with 422', async () => {
    const res = await request(t.baseUrl).post('/api/events/filter').send({ limit: 51 }).expect(422);
    expect(res.body.exception_detail[0]).toMatchObject({
      loc: ['body', 'limit'],
      msg: 'Input should be less than or equal to 50',
    });
    await request(t.baseUrl).post('/api/events/filter').send({ limit: -1 }).expect(422);
    const extra = await request(t.baseUrl)
      .post('/api/events/filter')
      .send({ filter: { nope: 1 } })
      .expect(422);
    expect(extra.body.exception_detail[0]).toMatchObject({
      loc: ['body', 'filter', 'nope'],
      type: 'extra_forbidden',
    });
    expect(await filter({}, { limit: 0 })).toEqual([]);
  });

  it('should filter by occurred, event prefix, name and exclusions', async () => {
    expect(await filter({ occurred: { since: at(5), until: at(70) } })).toEqual([id(3), id(2)]);
    expect(await filter({ event: { prefix: ['prefect.flow-run.'] } })).toEqual([id(2), id(1)]);
    expect(await filter({ event: { exclude_prefix: ['prefect.'] } })).toEqual([id(4)]);
    expect(await filter({ event: { name: ['prefect.task-run.Running', 'custom.thing'] } })).toEqual([
      id(4),
      id(3),
    ]);
    expect(await filter({ event: { exclude_name: ['custom.thing'] } })).toEqual([id(3), id(2), id(1)]);
  });

  it('should filter by resource id, prefix, label globs with negation, and distinct', async () => {
    expect(await filter({ resource: { id: ['prefect.task-run.b'] } })).toEqual([id(3)]);
    expect(await filter({ resource: { id_prefix: ['prefect.flow-run.'] } })).toEqual([id(2), id(1)]);
    expect(await filter({ resource: { labels: { env: 'pr*' } } })).toEqual([id(2), id(1)]);
    expect(await filter({ resource: { labels: { env: ['!prod'] } } })).toEqual([id(3)]);
    expect(await filter({ resource: { labels: { 'prefect.resource.name': 'alph?' } } })).toEqual([
      id(2),
      id(1),
    ]);
    expect(await filter({ resource: { distinct: true } })).toEqual([id(4), id(3), id(2)]);
    const res = await request(t.baseUrl)
      .post('/api/events/filter')
      .send({ filter: { resource: { distinct: true } } })
      .expect(200);
    expect(res.body.total).toBe(3);
  });

  it('should filter by related resources (roles required unless given) and by any resource', async () => {
    expect(await filter({ related: { id: ['prefect.flow.f1'] } })).toEqual([id(2), id(1)]);
    expect(await filter({ related: { role: ['tag'] } })).toEqual([id(1)]);
    expect(await filter({ related: { id: ['prefect.flow-run.a'] } })).toEqual([id(3)]);
    expect(await filter({ related: { resources_in_roles: [['prefect.flow-run.a', 'flow-run']] } })).toEqual([
      id(3),
    ]);
    expect(await filter({ related: { resources_in_roles: [['prefect.flow-run.a', 'flow']] } })).toEqual([]);
    expect(await filter({ related: { labels: { 'prefect.resource.name': 'etl' } } })).toEqual([id(2), id(1)]);
    expect(await filter({ related: [{ role: ['flow'] }, { role: ['tag'] }] })).toEqual([id(1)]);
    expect(await filter({ any_resource: { id: ['prefect.flow-run.a'] } })).toEqual([id(3), id(2), id(1)]);
    expect(await filter({ any_resource: { id_prefix: ['custom.'] } })).toEqual([id(4)]);
    expect(await filter({ any_resource: [{ id_prefix: ['prefect.'] }, { labels: { env: 'dev' } }] })).toEqual(
      [id(3)],
    );
  });

  it('should filter by id and by text (OR terms, +required, -excluded, "phrases")', async () => {
    expect(await filter({ id: { id: [id(2), id(4)] } })).toEqual([id(4), id(2)]);
    expect(await filter({ text: { query: 'quick' } })).toEqual([id(4), id(1)]);
    expect(await filter({ text: { query: 'quick -fix' } })).toEqual([id(1)]);
    expect(await filter({ text: { query: 'fox dog' } })).toEqual([id(2), id(1)]);
    expect(await filter({ text: { query: 'fox +etl' } })).toEqual([id(1)]);
    expect(await filter({ text: { query: '"brown fox"' } })).toEqual([id(1)]);
    expect(await filter({ text: { query: 'BETA' } })).toEqual([id(3)]);
    await request(t.baseUrl)
      .post('/api/events/filter')
      .send({ filter: { text: { query: 'x'.repeat(201) } } })
      .expect(422);
  });

  it('should count by event and by resource, by count descending then label', async () => {
    const byEvent = await request(t.baseUrl)
      .post('/api/events/count-by/event')
      .send({ filter: {} })
      .expect(200);
    expect((byEvent.body as { value: string; count: number }[]).map((c) => [c.value, c.count])).toEqual([
      ['custom.thing', 1],
      ['prefect.flow-run.Completed', 1],
      ['prefect.flow-run.Running', 1],
      ['prefect.task-run.Running', 1],
    ]);
    const byResource = await request(t.baseUrl)
      .post('/api/events/count-by/resource')
      .send({ filter: {} })
      .expect(200);
    expect(byResource.body).toEqual([
      { value: 'prefect.flow-run.a', label: 'alpha', count: 2, start_time: at(0), end_time: at(10) },
      { value: 'prefect.task-run.b', label: 'beta', count: 1, start_time: at(70), end_time: at(70) },
      { value: 'custom.c', label: 'custom.c', count: 1, start_time: at(130), end_time: at(130) },
    ]);
  });

  it('should count by time in zero-backfilled buckets measured from the pivot', async () => {
    const res = await request(t.baseUrl)
      .post('/api/events/count-by/time')
      .send({ filter: { occurred: { since: at(0), until: at(179) } }, time_unit: 'hour', time_interval: 1 })
      .expect(200);
    expect((res.body as { count: number }[]).map((c) => c.count)).toEqual([2, 1, 1]);
    expect(res.body[0]).toEqual({
      value: '0', // the position in the answer, as upstream
      label: `${at(0).slice(0, 19)}+00:00`, // Python's isoformat()
      count: 2,
      start_time: at(0),
      end_time: fromMicros(base + HOUR_US - 1),
    });
    const empty = await request(t.baseUrl)
      .post('/api/events/count-by/time')
      .send({ filter: { occurred: { since: at(-120), until: at(-1) } }, time_unit: 'hour' })
      .expect(200);
    expect((empty.body as { count: number }[]).map((c) => c.count)).toEqual([0, 0]);
    const day = await request(t.baseUrl)
      .post('/api/events/count-by/day')
      .send({ filter: { occurred: { since: at(0), until: at(179) } } })
      .expect(200);
    expect((day.body as { count: number }[]).reduce((n, c) => n + c.count, 0)).toBe(4);
  });

  it('should refuse bad count-by requests with 422', async () => {
    const small = await request(t.baseUrl)
      .post('/api/events/count-by/time')
      .send({ filter: {}, time_interval: 0.001 })
      .expect(422);
    expect(JSON.stringify(small.body)).toContain('0.01');
    const many = await request(t.baseUrl)
      .post('/api/events/count-by/time')
      .send({ filter: {}, time_unit: 'second' })
      .expect(422);
    expect(many.body.detail).toMatch(
      /^The given interval would create \d+ buckets, which is too many\. Please increase the interval or reduce the time range to produce 1000 buckets or fewer\.$/,
    );
    await request(t.baseUrl).post('/api/events/count-by/nope').send({ filter: {} }).expect(422);
    const missing = await request(t.baseUrl).post('/api/events/count-by/event').send({}).expect(422);
    expect(missing.body.exception_detail[0]).toMatchObject({ loc: ['body', 'filter'], type: 'missing' });
    await request(t.baseUrl)
      .post('/api/events/count-by/time')
      .send({ filter: {}, time_unit: 'year' })
      .expect(422);
  });
});
