import request from 'supertest';
import { fromMicros } from '../../src/common/time/timestamp';
import { ReceivedEvent } from '../../src/events/event.types';
import { EventsRepository } from '../../src/events/events.repository';
import { createTestApp, TestApp } from '../utils/create-test-app';

/*
 * Wire details checked against upstream's own tests (tests/events/server/test_events_counts.py and the
 * events API tests): bucket values, labels and boundaries of count-by, padded page tokens, 422 wording.
 */

const MINUTE_US = 60_000_000;
const DAY_US = 24 * 60 * MINUTE_US;

function id(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

describe('events wire details', () => {
  let t: TestApp;
  // Midnight UTC five days ago: upstream's fixtures put events at day + i hours + 2i minutes + 2i seconds.
  const day0 = Math.floor((Date.now() * 1000) / DAY_US) * DAY_US - 5 * DAY_US;
  const events: ReceivedEvent[] = [];
  for (let d = 0; d < 2; d++) {
    for (let i = 0; i < 20; i++) {
      const occurred = fromMicros(day0 + d * DAY_US + i * 60 * MINUTE_US + i * 2 * MINUTE_US + i * 2_000_000);
      events.push({
        id: id(d * 100 + i),
        occurred,
        event: 'things.happened',
        resource: { 'prefect.resource.id': `foo.${i % 3}` },
        related: [],
        payload: {},
        received: occurred,
        follows: null,
      });
    }
  }

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.get(EventsRepository).insertMany(events, fromMicros(day0 + 2 * DAY_US));
  });

  afterAll(async () => {
    await t.close();
  });

  const count = (countable: string, body: Record<string, unknown>) =>
    request(t.baseUrl).post(`/api/events/count-by/${countable}`).send(body).expect(200);

  it('should number day buckets by position, label them in Python ISO form, and not open one at `until`', async () => {
    const res = await count('day', {
      filter: { occurred: { since: fromMicros(day0), until: fromMicros(day0 + 2 * DAY_US) } },
    });
    const iso = (us: number) => `${new Date(us / 1000).toISOString().slice(0, 19)}+00:00`;
    expect(res.body).toEqual([
      {
        value: '0',
        label: iso(day0),
        count: 20,
        start_time: fromMicros(day0),
        end_time: fromMicros(day0 + DAY_US - 1),
      },
      {
        value: '1',
        label: iso(day0 + DAY_US),
        count: 20,
        start_time: fromMicros(day0 + DAY_US),
        end_time: fromMicros(day0 + 2 * DAY_US - 1),
      },
    ]);
  });

  it('should give since + 600 minutes by minute exactly 600 buckets (upstream test_counting_by_time_per_minute)', async () => {
    const res = await count('time', {
      filter: { occurred: { since: fromMicros(day0), until: fromMicros(day0 + 600 * MINUTE_US) } },
      time_unit: 'minute',
      time_interval: 1,
    });
    expect(res.body).toHaveLength(600);
    expect((res.body as { value: string }[]).map((c) => c.value)).toEqual(
      Array.from({ length: 600 }, (_, i) => String(i)),
    );
    // The event at 01:02:02 falls in bucket 62.
    expect(res.body[62]).toMatchObject({ value: '62', count: 1 });
    expect((res.body as { count: number }[]).reduce((n, c) => n + c.count, 0)).toBe(10);
  });

  it('should align large intervals on the pivot grid and still number from 0 (test_counting_by_time_large_interval)', async () => {
    const since = day0 + 20 * 60 * MINUTE_US + 18 * MINUTE_US + 23_000_000; // 20:18:23
    const res = await count('time', {
      filter: {
        occurred: { since: fromMicros(since), until: fromMicros(day0 + DAY_US + 4 * 60 * MINUTE_US) },
      },
      time_unit: 'second',
      time_interval: 1800,
    });
    expect(res.body[0]).toMatchObject({ value: '0', start_time: fromMicros(day0 + 20 * 60 * MINUTE_US) });
    expect(res.body[8]).toMatchObject({ value: '8', start_time: fromMicros(day0 + DAY_US), count: 1 });
  });

  it('should build next_page tokens in standard padded base64, and accept one whose + became a space', async () => {
    const first = await request(t.baseUrl).post('/api/events/filter').send({ limit: 7 }).expect(200);
    const token = new URL(first.body.next_page as string).searchParams.get('page-token')!;
    expect(token).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(token.length % 4).toBe(0);
    const inner = Buffer.from(token, 'base64').toString();
    expect(inner).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(inner.length % 4).toBe(0);
    const next = await request(t.baseUrl)
      .get(`/api/events/filter/next?page-token=${token.replace(/\+/g, ' ')}`)
      .expect(200);
    expect(next.body.events).toHaveLength(7);
  });

  it("should refuse a negative offset with upstream's wording", async () => {
    const res = await request(t.baseUrl).post('/api/task_runs/filter').send({ offset: -1 }).expect(422);
    expect(res.body.exception_detail).toEqual([
      {
        loc: ['body', 'offset'],
        msg: 'Input should be greater than or equal to 0',
        type: 'greater_than_equal',
        input: -1,
      },
    ]);
    const page = await request(t.baseUrl).post('/api/task_runs/paginate').send({ page: 0 }).expect(422);
    expect(page.body.exception_detail[0]).toMatchObject({
      msg: 'Input should be greater than or equal to 1',
      type: 'greater_than_equal',
    });
  });
});
