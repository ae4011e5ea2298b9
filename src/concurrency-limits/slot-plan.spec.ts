import { LockedV2Limit } from './concurrency-limits.repository';
import { ConcurrencyLimitV1 } from './concurrency-limits.types';
import { planClientIncrement, planSlotAcquisition, SlotPlanInput } from './slot-plan';

const RUN = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';

function v2(tag: string, limit: number, over: Partial<LockedV2Limit> = {}): LockedV2Limit {
  return {
    id: `id-${tag}`,
    name: `tag:${tag}`,
    active: true,
    limit,
    currentSlots: 0,
    avgSlotOccupancySeconds: 2,
    heldByRun: false,
    ...over,
  };
}

function v1(tag: string, limit: number, holders: string[] = []): ConcurrencyLimitV1 {
  return {
    id: `v1-${tag}`,
    created: '2026-01-01T00:00:00.000000Z',
    updated: '2026-01-01T00:00:00.000000Z',
    tag,
    concurrencyLimit: limit,
    activeSlots: holders,
  };
}

function plan(over: Partial<SlotPlanInput>) {
  return planSlotAcquisition({
    taskRunId: RUN,
    tags: [],
    v2Limits: [],
    v1Limits: [],
    slotWaitSeconds: 10,
    random: () => 1,
    ...over,
  });
}

describe(planSlotAcquisition.name, () => {
  it('should accept a run without limits and take nothing', () => {
    expect(plan({ tags: ['a'] })).toEqual({ status: 'ACCEPT', takeV2LimitIds: [], addV1Tags: [] });
  });

  it('should take a slot on every active v2 limit with room', () => {
    const sut = plan({ tags: ['a', 'b'], v2Limits: [v2('a', 2), v2('b', 1)] });
    expect(sut).toEqual({ status: 'ACCEPT', takeV2LimitIds: ['id-a', 'id-b'], addV1Tags: [] });
  });

  it('should abort on an active v2 limit of 0 with upstream text', () => {
    const sut = plan({ tags: ['a', 'zero'], v2Limits: [v2('a', 2), v2('zero', 0)] });
    expect(sut).toEqual({
      status: 'ABORT',
      reason: 'The concurrency limit on tag "zero" is 0 and will deadlock if the task tries to run again.',
    });
  });

  it('should ignore inactive v2 limits and use the v1 limit of the tag instead', () => {
    const sut = plan({ tags: ['a'], v2Limits: [v2('a', 0, { active: false })], v1Limits: [v1('a', 1)] });
    expect(sut).toEqual({ status: 'ACCEPT', takeV2LimitIds: [], addV1Tags: ['a'] });
  });

  it('should wait when a v2 limit is full, taking nothing, with a delay from the most occupied limit', () => {
    const sut = plan({
      tags: ['a', 'b'],
      v2Limits: [
        v2('a', 4, { currentSlots: 1, avgSlotOccupancySeconds: 100 }),
        v2('b', 2, { currentSlots: 2 }),
      ],
    });
    // b is the blocking limit (2/2): its average 2 s × 1.3 (highest draw) = 2.6 → 3
    expect(sut).toEqual({
      status: 'WAIT',
      delaySeconds: 3,
      reason: 'Concurrency limit reached for tags: a, b',
    });
  });

  it('should cap the v2 wait mean at the slot wait setting', () => {
    const sut = plan({
      tags: ['a'],
      v2Limits: [v2('a', 1, { currentSlots: 1, avgSlotOccupancySeconds: 600 })],
    });
    expect(sut).toMatchObject({ status: 'WAIT', delaySeconds: 13 });
  });

  it('should not need a second slot on a v2 limit the run already holds (restarted RUNNING)', () => {
    const sut = plan({ tags: ['a'], v2Limits: [v2('a', 1, { currentSlots: 1, heldByRun: true })] });
    expect(sut).toEqual({ status: 'ACCEPT', takeV2LimitIds: [], addV1Tags: [] });
  });

  it('should abort on a v1 limit of 0 even after v2 slots were granted', () => {
    const sut = plan({ tags: ['a', 'b'], v2Limits: [v2('a', 3)], v1Limits: [v1('b', 0)] });
    expect(sut).toEqual({
      status: 'ABORT',
      reason: 'The concurrency limit on tag "b" is 0 and will deadlock if the task tries to run again.',
    });
  });

  it('should wait the slot wait setting on a full v1 limit', () => {
    const sut = plan({ tags: ['b'], v1Limits: [v1('b', 1, [OTHER])] });
    expect(sut).toEqual({
      status: 'WAIT',
      delaySeconds: 10,
      reason: 'Concurrency limit for the b tag has been reached',
    });
  });

  it('should treat v1 slots as a set: a holder is not counted twice nor blocked', () => {
    const sut = plan({ tags: ['b'], v1Limits: [v1('b', 1, [RUN])] });
    expect(sut).toEqual({ status: 'ACCEPT', takeV2LimitIds: [], addV1Tags: [] });
  });

  it('should skip v1 limits of tags that have an active v2 limit', () => {
    const sut = plan({ tags: ['a'], v2Limits: [v2('a', 5)], v1Limits: [v1('a', 1, [OTHER])] });
    expect(sut).toEqual({ status: 'ACCEPT', takeV2LimitIds: ['id-a'], addV1Tags: [] });
  });

  it('should check every v1 limit once one v1-only tag applies (upstream quirk)', () => {
    const sut = plan({
      tags: ['a', 'b'],
      v2Limits: [v2('a', 5)],
      v1Limits: [v1('a', 1, [OTHER]), v1('b', 3)],
    });
    expect(sut).toEqual({
      status: 'WAIT',
      delaySeconds: 10,
      reason: 'Concurrency limit for the a tag has been reached',
    });
  });

  it('should ignore duplicate tags', () => {
    const sut = plan({ tags: ['a', 'a'], v2Limits: [v2('a', 1)] });
    expect(sut).toEqual({ status: 'ACCEPT', takeV2LimitIds: ['id-a'], addV1Tags: [] });
  });
});

describe(planClientIncrement.name, () => {
  const inc = (over: Partial<SlotPlanInput>) =>
    planClientIncrement({
      taskRunId: RUN,
      tags: [],
      v2Limits: [],
      v1Limits: [],
      slotWaitSeconds: 10,
      ...over,
    });

  it('should refuse a zero limit first, even an inactive v2 one, without Retry-After', () => {
    expect(
      inc({ tags: ['a', 'z'], v2Limits: [v2('a', 1, { currentSlots: 1 }), v2('z', 0, { active: false })] }),
    ).toEqual({
      status: 'LOCKED',
      detail: 'The concurrency limit on tag "z" is 0 and will deadlock if the task tries to run again.',
    });
  });

  it('should refuse a full limit naming its tag, with the slot wait as Retry-After', () => {
    expect(inc({ tags: ['a', 'b'], v2Limits: [v2('a', 3)], v1Limits: [v1('b', 1, [OTHER])] })).toEqual({
      status: 'LOCKED',
      detail: 'Concurrency limit for the b tag has been reached',
      retryAfterSeconds: 10,
    });
  });

  it('should take v2 slots for tags with an active v2 limit and v1 slots for the others', () => {
    expect(
      inc({ tags: ['a', 'b', 'c'], v2Limits: [v2('a', 3)], v1Limits: [v1('a', 1, [OTHER]), v1('b', 2)] }),
    ).toEqual({
      status: 'ACQUIRE',
      takeV2LimitIds: ['id-a'],
      addV1Tags: ['b'],
      limits: [
        { id: 'id-a', name: 'a', limit: 3 },
        { id: 'v1-b', name: 'b', limit: 2 },
      ],
    });
  });

  it('should treat held slots as held (no second slot, no refusal)', () => {
    expect(
      inc({
        tags: ['a', 'b'],
        v2Limits: [v2('a', 1, { currentSlots: 1, heldByRun: true })],
        v1Limits: [v1('b', 1, [RUN])],
      }),
    ).toMatchObject({ status: 'ACQUIRE', takeV2LimitIds: [], addV1Tags: [] });
  });
});
