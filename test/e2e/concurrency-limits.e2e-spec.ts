import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ConcurrencySlotsService } from '../../src/concurrency-limits/concurrency-slots.service';
import { createTestApp, TestApp } from '../utils/create-test-app';

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('concurrency limits API (v1 and v2)', () => {
  let t: TestApp;
  let slots: ConcurrencySlotsService;
  const api = () => request(t.baseUrl);

  beforeAll(async () => {
    t = await createTestApp();
    slots = t.app.get(ConcurrencySlotsService);
  });

  afterAll(async () => {
    await t.close();
  });

  beforeEach(async () => {
    await t.dataSource.query('TRUNCATE concurrency_lease, concurrency_limit_v2, concurrency_limit');
  });

  const secure = (runId: string, tags: string[]) =>
    t.dataSource.transaction((m) => slots.secure(m, runId, tags));
  const insertV1 = (tag: string, limit: number, holders: string[] = []) =>
    t.dataSource.query<{ id: string }[]>(
      `INSERT INTO concurrency_limit (tag, concurrency_limit, active_slots) VALUES ($1, $2, $3::jsonb) RETURNING id`,
      [tag, limit, JSON.stringify(holders)],
    );

  describe('v2', () => {
    it('should create a limit with upstream defaults (201)', async () => {
      const res = await api().post('/api/v2/concurrency_limits/').send({ name: 'db', limit: 3 }).expect(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        created: expect.stringMatching(TS),
        updated: expect.stringMatching(TS),
        active: true,
        name: 'db',
        limit: 3,
        active_slots: 0,
        denied_slots: 0,
        slot_decay_per_second: 0,
        avg_slot_occupancy_seconds: 2,
      });
    });

    it('should read a limit by id and by name, and 404 with upstream text', async () => {
      const { body } = await api()
        .post('/api/v2/concurrency_limits/')
        .send({ name: 'tag:x', limit: 1 })
        .expect(201);
      await api()
        .get(`/api/v2/concurrency_limits/${body.id}`)
        .expect(200)
        .expect((r) => expect(r.body.name).toBe('tag:x'));
      await api()
        .get('/api/v2/concurrency_limits/tag:x')
        .expect(200)
        .expect((r) => expect(r.body.id).toBe(body.id));
      const missing = await api().get(`/api/v2/concurrency_limits/${randomUUID()}`).expect(404);
      expect(missing.body).toEqual({ detail: 'Concurrency Limit not found' });
      await api().get('/api/v2/concurrency_limits/nope').expect(404);
    });

    it('should refuse a duplicate name with 409, a negative limit and a banned character with 422', async () => {
      await api().post('/api/v2/concurrency_limits/').send({ name: 'dup', limit: 1 }).expect(201);
      await api().post('/api/v2/concurrency_limits/').send({ name: 'dup', limit: 2 }).expect(409);
      const neg = await api().post('/api/v2/concurrency_limits/').send({ name: 'n', limit: -1 }).expect(422);
      expect(neg.body.exception_detail[0].loc).toEqual(['body', 'limit']);
      const bad = await api().post('/api/v2/concurrency_limits/').send({ name: 'a/b', limit: 1 }).expect(422);
      expect(bad.body.exception_detail[0].msg).toContain('contains an invalid character');
      await api().post('/api/v2/concurrency_limits/').send({ name: 'x', limit: 1, bogus: 1 }).expect(422);
    });

    it('should patch (204) by name or id and 404 an unknown one', async () => {
      const { body } = await api()
        .post('/api/v2/concurrency_limits/')
        .send({ name: 'p', limit: 1 })
        .expect(201);
      await api().patch('/api/v2/concurrency_limits/p').send({ limit: 7, active: false }).expect(204);
      await api()
        .patch(`/api/v2/concurrency_limits/${body.id}`)
        .send({ slot_decay_per_second: 0.5 })
        .expect(204);
      const read = await api().get('/api/v2/concurrency_limits/p').expect(200);
      expect(read.body).toMatchObject({ limit: 7, active: false, slot_decay_per_second: 0.5 });
      const missing = await api().patch('/api/v2/concurrency_limits/zzz').send({ limit: 1 }).expect(404);
      expect(missing.body).toEqual({ detail: 'Concurrency Limit not found' });
    });

    it('should delete (204) and then 404', async () => {
      await api().post('/api/v2/concurrency_limits/').send({ name: 'd', limit: 1 }).expect(201);
      await api().delete('/api/v2/concurrency_limits/d').expect(204);
      await api().delete('/api/v2/concurrency_limits/d').expect(404);
    });

    it('should filter ordered by name with limit and offset, and check the limit bounds', async () => {
      for (const name of ['c', 'a', 'b']) {
        await api().post('/api/v2/concurrency_limits/').send({ name, limit: 1 }).expect(201);
      }
      const all = await api().post('/api/v2/concurrency_limits/filter').send({}).expect(200);
      expect((all.body as { name: string }[]).map((l) => l.name)).toEqual(['a', 'b', 'c']);
      const page = await api()
        .post('/api/v2/concurrency_limits/filter')
        .send({ limit: 1, offset: 1 })
        .expect(200);
      expect((page.body as { name: string }[]).map((l) => l.name)).toEqual(['b']);
      const over = await api().post('/api/v2/concurrency_limits/filter').send({ limit: 201 }).expect(422);
      expect(over.body).toEqual({ detail: 'Invalid limit: must be less than or equal to 200.' });
      const neg = await api().post('/api/v2/concurrency_limits/filter').send({ limit: -1 }).expect(422);
      expect(neg.body).toEqual({ detail: 'Invalid limit: must be greater than or equal to 0.' });
      await api()
        .post('/api/v2/concurrency_limits/filter')
        .send({ limit: 0 })
        .expect(200)
        .expect((r) => expect(r.body).toEqual([]));
    });

    it('should show slots taken by task runs in active_slots', async () => {
      await api().post('/api/v2/concurrency_limits/').send({ name: 'tag:busy', limit: 2 }).expect(201);
      await secure(randomUUID(), ['busy']);
      const res = await api().get('/api/v2/concurrency_limits/tag:busy').expect(200);
      expect(res.body.active_slots).toBe(1);
    });
  });

  describe('v1 (tag limits, backed by v2 `tag:` limits)', () => {
    it('should create a tag limit (201) as the v2 limit tag:<tag>, and upsert by tag (200)', async () => {
      const created = await api()
        .post('/api/concurrency_limits/')
        .send({ tag: 'io', concurrency_limit: 2 })
        .expect(201);
      expect(created.body).toEqual({
        id: expect.any(String),
        created: expect.stringMatching(TS),
        updated: expect.stringMatching(TS),
        tag: 'io',
        concurrency_limit: 2,
        active_slots: [],
      });
      const v2 = await api().get('/api/v2/concurrency_limits/tag:io').expect(200);
      expect(v2.body).toMatchObject({ id: created.body.id, limit: 2, active: true });

      const again = await api()
        .post('/api/concurrency_limits/')
        .send({ tag: 'io', concurrency_limit: 5 })
        .expect(200);
      expect(again.body).toMatchObject({ id: created.body.id, concurrency_limit: 5 });
    });

    it('should refuse a body without tag or with unknown keys (422)', async () => {
      await api().post('/api/concurrency_limits/').send({ concurrency_limit: 1 }).expect(422);
      await api()
        .post('/api/concurrency_limits/')
        .send({ tag: 'x', concurrency_limit: 1, other: 1 })
        .expect(422);
    });

    it('should read by id and by tag with the holders in active_slots, and 404 with upstream text', async () => {
      const { body } = await api()
        .post('/api/concurrency_limits/')
        .send({ tag: 'gpu', concurrency_limit: 3 })
        .expect(201);
      const [r1, r2] = [randomUUID(), randomUUID()];
      await secure(r1, ['gpu']);
      await secure(r2, ['gpu']);
      const byId = await api().get(`/api/concurrency_limits/${body.id}`).expect(200);
      expect(byId.body.active_slots).toEqual([r1, r2]);
      const byTag = await api().get('/api/concurrency_limits/tag/gpu').expect(200);
      expect(byTag.body).toMatchObject({
        id: body.id,
        tag: 'gpu',
        concurrency_limit: 3,
        active_slots: [r1, r2],
      });

      const missing = await api().get(`/api/concurrency_limits/${randomUUID()}`).expect(404);
      expect(missing.body).toEqual({ detail: 'Concurrency limit not found' });
      await api().get('/api/concurrency_limits/tag/none').expect(404);
      await api().get('/api/concurrency_limits/not-a-uuid').expect(404);
    });

    it('should read legacy v1 rows when the tag has no v2 limit', async () => {
      const holder = randomUUID();
      const [{ id }] = await insertV1('legacy', 4, [holder]);
      const byId = await api().get(`/api/concurrency_limits/${id}`).expect(200);
      expect(byId.body).toMatchObject({ id, tag: 'legacy', concurrency_limit: 4, active_slots: [holder] });
      await api().get('/api/concurrency_limits/tag/legacy').expect(200);
    });

    it('should filter the tag: v2 limits first, then legacy v1 rows of other tags, paged', async () => {
      await api().post('/api/v2/concurrency_limits/').send({ name: 'global', limit: 1 }).expect(201);
      await api().post('/api/concurrency_limits/').send({ tag: 'b', concurrency_limit: 1 }).expect(201);
      await api().post('/api/concurrency_limits/').send({ tag: 'a', concurrency_limit: 1 }).expect(201);
      await insertV1('a', 9);
      await insertV1('0-legacy', 2);
      const res = await api().post('/api/concurrency_limits/filter').send({}).expect(200);
      expect(
        (res.body as { tag: string; concurrency_limit: number }[]).map((l) => [l.tag, l.concurrency_limit]),
      ).toEqual([
        ['a', 1],
        ['b', 1],
        ['0-legacy', 2],
      ]);
      const page = await api()
        .post('/api/concurrency_limits/filter')
        .send({ limit: 1, offset: 2 })
        .expect(200);
      expect((page.body as { tag: string }[]).map((l) => l.tag)).toEqual(['0-legacy']);
    });

    it('should reset a tag limit: drop its holders and slots, or set them to slot_override', async () => {
      await api().post('/api/concurrency_limits/').send({ tag: 'r', concurrency_limit: 2 }).expect(201);
      await secure(randomUUID(), ['r']);
      await secure(randomUUID(), ['r']);
      const reset = await api().post('/api/concurrency_limits/tag/r/reset').send({}).expect(200);
      expect(reset.body).toBeNull();
      const cleared = await api().get('/api/concurrency_limits/tag/r').expect(200);
      expect(cleared.body.active_slots).toEqual([]);
      expect((await api().get('/api/v2/concurrency_limits/tag:r')).body.active_slots).toBe(0);

      const keep = randomUUID();
      await api()
        .post('/api/concurrency_limits/tag/r/reset')
        .send({ slot_override: [keep] })
        .expect(200);
      expect((await api().get('/api/concurrency_limits/tag/r')).body.active_slots).toEqual([keep]);
      expect((await api().get('/api/v2/concurrency_limits/tag:r')).body.active_slots).toBe(1);

      const missing = await api().post('/api/concurrency_limits/tag/none/reset').send({}).expect(404);
      expect(missing.body).toEqual({ detail: 'Concurrency limit not found' });
    });

    it('should reset a legacy v1 row', async () => {
      await insertV1('old', 1, [randomUUID()]);
      await api().post('/api/concurrency_limits/tag/old/reset').send({}).expect(200);
      expect((await api().get('/api/concurrency_limits/tag/old')).body.active_slots).toEqual([]);
    });

    it('should increment (client-side slots) all or nothing, and 423 a full or zero limit', async () => {
      const { body: io } = await api()
        .post('/api/concurrency_limits/')
        .send({ tag: 'inc', concurrency_limit: 1 })
        .expect(201);
      const [{ id: legacyId }] = await insertV1('inc-v1', 2);
      const [a, b] = [randomUUID(), randomUUID()];
      const ok = await api()
        .post('/api/concurrency_limits/increment')
        .send({ names: ['inc', 'inc-v1', 'free'], task_run_id: a })
        .expect(200);
      expect(ok.body).toEqual([
        { id: io.id, name: 'inc', limit: 1 },
        { id: legacyId, name: 'inc-v1', limit: 2 },
      ]);
      // a set: the holder asks again and is not refused nor counted twice
      await api()
        .post('/api/concurrency_limits/increment')
        .send({ names: ['inc'], task_run_id: a })
        .expect(200);
      expect((await api().get('/api/v2/concurrency_limits/tag:inc')).body.active_slots).toBe(1);

      const full = await api()
        .post('/api/concurrency_limits/increment')
        .send({ names: ['inc-v1', 'inc'], task_run_id: b })
        .expect(423);
      expect(full.body).toEqual({ detail: 'Concurrency limit for the inc tag has been reached' });
      expect(full.headers['retry-after']).toBe('10');
      expect((await api().get('/api/concurrency_limits/tag/inc-v1')).body.active_slots).toEqual([a]);

      await api()
        .post('/api/concurrency_limits/')
        .send({ tag: 'inc-zero', concurrency_limit: 0 })
        .expect(201);
      const zero = await api()
        .post('/api/concurrency_limits/increment')
        .send({ names: ['inc-zero'], task_run_id: b })
        .expect(423);
      expect(zero.body).toEqual({
        detail:
          'The concurrency limit on tag "inc-zero" is 0 and will deadlock if the task tries to run again.',
      });
      expect(zero.headers['retry-after']).toBeUndefined();

      const dec = await api()
        .post('/api/concurrency_limits/decrement')
        .send({ names: ['inc', 'inc-v1'], task_run_id: a })
        .expect(200);
      expect(dec.body).toEqual([
        { id: io.id, name: 'tag:inc', limit: 1 },
        { id: legacyId, name: 'inc-v1', limit: 2 },
      ]);
      expect((await api().get('/api/concurrency_limits/tag/inc')).body.active_slots).toEqual([]);
      expect((await api().get('/api/concurrency_limits/tag/inc-v1')).body.active_slots).toEqual([]);
      await api()
        .post('/api/concurrency_limits/increment')
        .send({ names: ['inc'], task_run_id: b })
        .expect(200);
    });

    it('should grant exactly 3 of 20 concurrent increments against a limit of 3', async () => {
      await api().post('/api/concurrency_limits/').send({ tag: 'crowd', concurrency_limit: 3 }).expect(201);
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          api()
            .post('/api/concurrency_limits/increment')
            .send({ names: ['crowd'], task_run_id: randomUUID() }),
        ),
      );
      expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
      expect(responses.filter((r) => r.status === 423)).toHaveLength(17);
      expect((await api().get('/api/concurrency_limits/tag/crowd')).body.active_slots).toHaveLength(3);
    });

    it('should delete by id and by tag (200 null), then 404', async () => {
      const { body } = await api()
        .post('/api/concurrency_limits/')
        .send({ tag: 'del', concurrency_limit: 1 })
        .expect(201);
      await secure(randomUUID(), ['del']);
      const res = await api().delete(`/api/concurrency_limits/${body.id}`).expect(200);
      expect(res.body).toBeNull();
      await api().get('/api/v2/concurrency_limits/tag:del').expect(404);
      await api().delete(`/api/concurrency_limits/${body.id}`).expect(404);
      const [{ count }] = await t.dataSource.query(`SELECT count(*) FROM concurrency_lease`);
      expect(count).toBe(0);

      await api().post('/api/concurrency_limits/').send({ tag: 'del2', concurrency_limit: 1 }).expect(201);
      await api().delete('/api/concurrency_limits/tag/del2').expect(200);
      const missing = await api().delete('/api/concurrency_limits/tag/del2').expect(404);
      expect(missing.body).toEqual({ detail: 'Concurrency limit not found' });

      const [{ id }] = await insertV1('legacy-del', 1);
      await api().delete(`/api/concurrency_limits/${id}`).expect(200);
      await api().get('/api/concurrency_limits/tag/legacy-del').expect(404);
    });
  });
});
