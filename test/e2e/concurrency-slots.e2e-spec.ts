import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { MetricsService } from '../../src/common/metrics/metrics.service';
import {
  ConcurrencySlotsService,
  SlotDecision,
} from '../../src/concurrency-limits/concurrency-slots.service';
import { createTestApp, TestApp } from '../utils/create-test-app';

describe(ConcurrencySlotsService.name, () => {
  let t: TestApp;
  let sut: ConcurrencySlotsService;

  beforeAll(async () => {
    t = await createTestApp({ env: { DATABASE_POOL_SIZE: '20' } });
    sut = t.app.get(ConcurrencySlotsService);
  });

  afterAll(async () => {
    await t.close();
  });

  beforeEach(async () => {
    await t.dataSource.query('TRUNCATE concurrency_lease, concurrency_limit_v2, concurrency_limit');
  });

  /** One orchestration-like transaction: secure, then hold the transaction open a little (widens any race). */
  const secure = (runId: string, tags: string[], hold?: (m: EntityManager) => Promise<unknown>) =>
    t.dataSource.transaction(async (m) => {
      const decision = await sut.secure(m, runId, tags);
      await m.query('SELECT pg_sleep(0.005)');
      await hold?.(m);
      return decision;
    });
  const release = (runId: string, tags: string[]) =>
    t.dataSource.transaction((m) => sut.release(m, runId, tags));
  const v2 = (tag: string, limit: number, active = true) =>
    t.dataSource.query(`INSERT INTO concurrency_limit_v2 (name, "limit", active) VALUES ($1, $2, $3)`, [
      `tag:${tag}`,
      limit,
      active,
    ]);
  const v1 = (tag: string, limit: number) =>
    t.dataSource.query(`INSERT INTO concurrency_limit (tag, concurrency_limit) VALUES ($1, $2)`, [
      tag,
      limit,
    ]);
  const v2Slots = async (tag: string): Promise<number> =>
    (
      await t.dataSource.query<{ active_slots: number }[]>(
        `SELECT active_slots FROM concurrency_limit_v2 WHERE name = $1`,
        [`tag:${tag}`],
      )
    )[0].active_slots;
  const leases = async (): Promise<number> =>
    (await t.dataSource.query<{ count: number }[]>(`SELECT count(*) FROM concurrency_lease`))[0].count;
  const v1Holders = async (tag: string): Promise<string[]> =>
    (
      await t.dataSource.query<{ active_slots: string[] }[]>(
        `SELECT active_slots FROM concurrency_limit WHERE tag = $1`,
        [tag],
      )
    )[0].active_slots;
  const count = (decisions: SlotDecision[], status: SlotDecision['status']) =>
    decisions.filter((d) => d.status === status).length;

  it('should grant exactly 5 of 50 concurrent acquisitions on a v2 limit of 5; the rest wait', async () => {
    await v2('race', 5);
    const decisions = await Promise.all(Array.from({ length: 50 }, () => secure(randomUUID(), ['race'])));
    expect(count(decisions, 'ACCEPT')).toBe(5);
    expect(count(decisions, 'WAIT')).toBe(45);
    expect(await v2Slots('race')).toBe(5);
    expect(await leases()).toBe(5);
    const wait = decisions.find((d) => d.status === 'WAIT');
    expect(wait).toMatchObject({ reason: 'Concurrency limit reached for tags: race' });
    const metrics = await t.app.get(MetricsService).render();
    expect(metrics.body).toMatch(
      /prefect_task_concurrency_slot_decisions_total\{decision="WAIT"\} (4[5-9]|[5-9]\d)/,
    );
  });

  it('should grant exactly 5 of 50 concurrent acquisitions on a legacy v1 limit of 5', async () => {
    await v1('legacy', 5);
    const decisions = await Promise.all(Array.from({ length: 50 }, () => secure(randomUUID(), ['legacy'])));
    expect(count(decisions, 'ACCEPT')).toBe(5);
    expect(decisions.filter((d) => d.status === 'WAIT')).toEqual(
      Array(45).fill({
        status: 'WAIT',
        delaySeconds: 10,
        reason: 'Concurrency limit for the legacy tag has been reached',
      }),
    );
    expect(await v1Holders('legacy')).toHaveLength(5);
  });

  it('should not deadlock runs whose overlapping tags come in different orders', async () => {
    await v2('a', 3);
    await v2('b', 40);
    await v1('c', 40);
    await v1('d', 40);
    const decisions = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        secure(randomUUID(), i % 2 ? ['a', 'b', 'c', 'd'] : ['d', 'c', 'b', 'a']),
      ),
    );
    expect(count(decisions, 'ACCEPT')).toBe(3);
    expect(await v2Slots('a')).toBe(3);
    expect(await v2Slots('b')).toBe(3);
    expect(await v1Holders('c')).toHaveLength(3);
  });

  it('should leave no slot behind when the orchestration transaction rolls back', async () => {
    await v2('tx', 1);
    await expect(
      secure(randomUUID(), ['tx'], () => Promise.reject(new Error('later failure'))),
    ).rejects.toThrow('later failure');
    expect(await v2Slots('tx')).toBe(0);
    expect(await leases()).toBe(0);
  });

  it('should take no second slot for a run that already holds one (restarted RUNNING)', async () => {
    await v2('set', 1);
    await v1('set1', 1);
    const run = randomUUID();
    expect((await secure(run, ['set', 'set1'])).status).toBe('ACCEPT');
    expect(await secure(run, ['set', 'set1'])).toEqual({
      status: 'ACCEPT',
      acquired: { v2LimitIds: [], v1Tags: [] },
    });
    expect(await v2Slots('set')).toBe(1);
    expect(await v1Holders('set1')).toEqual([run]);
  });

  it('should abort on a zero limit with upstream text and take nothing', async () => {
    await v2('ok', 5);
    await v2('zero', 0);
    const decision = await secure(randomUUID(), ['ok', 'zero']);
    expect(decision).toEqual({
      status: 'ABORT',
      reason: 'The concurrency limit on tag "zero" is 0 and will deadlock if the task tries to run again.',
    });
    expect(await v2Slots('ok')).toBe(0);
  });

  it('should free the slots on release so that a waiting run gets in, and learn the occupancy', async () => {
    await v2('rel', 1);
    await v1('rel1', 1);
    const [first, second] = [randomUUID(), randomUUID()];
    expect((await secure(first, ['rel', 'rel1'])).status).toBe('ACCEPT');
    expect((await secure(second, ['rel', 'rel1'])).status).toBe('WAIT');
    await t.dataSource.query(`UPDATE concurrency_lease SET created = now() - interval '42 seconds'`);
    await release(first, ['rel', 'rel1']);
    expect(await v2Slots('rel')).toBe(0);
    expect(await v1Holders('rel1')).toEqual([]);
    const [{ avg }] = await t.dataSource.query<{ avg: number }[]>(
      `SELECT avg_slot_occupancy_seconds AS avg FROM concurrency_limit_v2 WHERE name = 'tag:rel'`,
    );
    expect(avg).toBeCloseTo(2 + (42 - 2) / 2, 0); // moving average over limit × 2 samples, from 2 s
    expect((await secure(second, ['rel', 'rel1'])).status).toBe('ACCEPT');
    await release(first, ['rel', 'rel1']); // idempotent: the other run's slot stays
    expect(await v2Slots('rel')).toBe(1);
  });

  it('should undo only the slots one acquisition took', async () => {
    await v2('u', 5);
    await v1('u1', 5);
    await v1('u2', 5);
    const run = randomUUID();
    await secure(run, ['u', 'u1']);
    const second = await secure(run, ['u', 'u1', 'u2']);
    expect(second).toEqual({ status: 'ACCEPT', acquired: { v2LimitIds: [], v1Tags: ['u2'] } });
    if (second.status !== 'ACCEPT') {
      throw new Error('unreachable');
    }
    await t.dataSource.transaction((m) => sut.undo(m, run, second.acquired));
    expect(await v2Slots('u')).toBe(1);
    expect(await v1Holders('u1')).toEqual([run]);
    expect(await v1Holders('u2')).toEqual([]);
  });

  it('should use the v1 limit of a tag whose v2 limit is inactive', async () => {
    await v2('off', 0, false);
    await v1('off', 1);
    const run = randomUUID();
    expect((await secure(run, ['off'])).status).toBe('ACCEPT');
    expect(await v1Holders('off')).toEqual([run]);
    expect(await v2Slots('off')).toBe(0);
  });
});
