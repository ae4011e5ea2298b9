import { LockedV2Limit } from './concurrency-limits.repository';
import { ConcurrencyLimitV1, TAG_LIMIT_PREFIX, tagLimitName } from './concurrency-limits.types';
import { RandomSource, tagLimitWaitSeconds } from './slot-wait';

/** What the task run may do about its tag limits, and (when accepted) the slots to take for it. */
export type SlotPlan =
  | { status: 'ACCEPT'; takeV2LimitIds: string[]; addV1Tags: string[] }
  | { status: 'ABORT'; reason: string }
  | { status: 'WAIT'; delaySeconds: number; reason: string };

export interface SlotPlanInput {
  taskRunId: string;
  /** The run's tags, in its order (duplicates ignored). */
  tags: readonly string[];
  /** The v2 limits named `tag:<tag>` for those tags (any order). */
  v2Limits: readonly LockedV2Limit[];
  /** The v1 limits of those tags (any order). */
  v1Limits: readonly ConcurrencyLimitV1[];
  /** `PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS`. */
  slotWaitSeconds: number;
  random?: RandomSource;
}

export function zeroLimitReason(tag: string): string {
  return `The concurrency limit on tag "${tag}" is 0 and will deadlock if the task tries to run again.`;
}

export function v2FullReason(tags: readonly string[]): string {
  return `Concurrency limit reached for tags: ${tags.join(', ')}`;
}

export function v1FullReason(tag: string): string {
  return `Concurrency limit for the ${tag} tag has been reached`;
}

/**
 * The decision of SecureTaskConcurrencySlots (docs/reference.md §4.4), made on limits the caller has locked:
 * 1. v2 limits first: an active limit of 0 aborts; otherwise the run needs one slot on every active limit it does
 *    not hold yet, and if any of them is full it waits (delay from the most occupied limit, a clamped-Poisson
 *    interval around its average slot occupancy);
 * 2. then v1 limits, in tag order: 0 aborts, full waits the slot-wait setting, else the run joins the holders.
 *    Tags with an active v2 limit are skipped, except upstream's quirk: once any v1 limit without a v2
 *    counterpart applies, every v1 limit of the run's tags is checked.
 * Slots are sets: a limit the run already holds (a restarted RUNNING) needs no second slot and never blocks it.
 * Nothing is taken unless everything is granted, so an abort or a wait leaves no slot behind.
 */
export function planSlotAcquisition(input: SlotPlanInput): SlotPlan {
  const tags = [...new Set(input.tags)];
  const v2ByName = new Map(input.v2Limits.map((l) => [l.name, l]));

  const activeV2 = tags
    .map((tag) => ({ tag, limit: v2ByName.get(tagLimitName(tag)) }))
    .filter((e): e is { tag: string; limit: LockedV2Limit } => e.limit !== undefined && e.limit.active);

  const zero = activeV2.find((e) => e.limit.limit === 0);
  if (zero) {
    return { status: 'ABORT', reason: zeroLimitReason(zero.tag) };
  }

  const takeV2 = activeV2.filter((e) => !e.limit.heldByRun);
  if (takeV2.some((e) => e.limit.currentSlots + 1 > e.limit.limit)) {
    const blocking = activeV2.reduce((a, b) =>
      b.limit.currentSlots / b.limit.limit > a.limit.currentSlots / a.limit.limit ? b : a,
    );
    return {
      status: 'WAIT',
      delaySeconds: tagLimitWaitSeconds(
        blocking.limit.avgSlotOccupancySeconds,
        input.slotWaitSeconds,
        input.random,
      ),
      reason: v2FullReason(activeV2.map((e) => e.tag)),
    };
  }

  const v2Tags = new Set(activeV2.map((e) => e.tag));
  const runTags = new Set(tags);
  const v1Limits = input.v1Limits
    .filter((l) => runTags.has(l.tag))
    .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  const v1Pass = v1Limits.some((l) => !v2Tags.has(l.tag)) ? v1Limits : [];

  const addV1Tags: string[] = [];
  for (const limit of v1Pass) {
    const holds = limit.activeSlots.includes(input.taskRunId);
    if (limit.concurrencyLimit === 0) {
      return { status: 'ABORT', reason: zeroLimitReason(limit.tag) };
    }
    if (holds) {
      continue;
    }
    if (limit.activeSlots.length >= limit.concurrencyLimit) {
      return { status: 'WAIT', delaySeconds: input.slotWaitSeconds, reason: v1FullReason(limit.tag) };
    }
    addV1Tags.push(limit.tag);
  }

  return { status: 'ACCEPT', takeV2LimitIds: takeV2.map((e) => e.limit.id), addV1Tags };
}

/** The tag of a `tag:<tag>` limit name, or null for other global limits. */
export function tagOfLimitName(name: string): string | null {
  return name.startsWith(TAG_LIMIT_PREFIX) ? name.slice(TAG_LIMIT_PREFIX.length) : null;
}

/** Upstream's `MinimalConcurrencyLimitResponse`. */
export interface MinimalLimit {
  id: string;
  name: string;
  limit: number;
}

/** `POST /concurrency_limits/increment`: the slots to take, or why the client must back off (HTTP 423). */
export type IncrementPlan =
  | { status: 'ACQUIRE'; takeV2LimitIds: string[]; addV1Tags: string[]; limits: MinimalLimit[] }
  | { status: 'LOCKED'; detail: string; retryAfterSeconds?: number };

/**
 * The client-side acquisition of the v1 API (`/concurrency_limits/increment`, upstream's adapter): a zero limit
 * on any tag (v2, even inactive, or v1) refuses first; then each tag uses its active v2 limit, else its v1
 * limit; a full one refuses with the slot-wait setting as Retry-After. All or nothing; slots are sets.
 */
export function planClientIncrement(input: Omit<SlotPlanInput, 'random'>): IncrementPlan {
  const tags = [...new Set(input.tags)];
  const v2ByName = new Map(input.v2Limits.map((l) => [l.name, l]));
  const v1ByTag = new Map(input.v1Limits.map((l) => [l.tag, l]));

  for (const tag of tags) {
    const v2 = v2ByName.get(tagLimitName(tag));
    const v1 = v1ByTag.get(tag);
    if (v2?.limit === 0 || v1?.concurrencyLimit === 0) {
      return { status: 'LOCKED', detail: zeroLimitReason(tag) };
    }
  }

  const full = (tag: string): IncrementPlan => ({
    status: 'LOCKED',
    detail: v1FullReason(tag),
    retryAfterSeconds: input.slotWaitSeconds,
  });
  const v2Take: { tag: string; limit: LockedV2Limit }[] = [];
  const v1Take: ConcurrencyLimitV1[] = [];
  for (const tag of tags) {
    const v2 = v2ByName.get(tagLimitName(tag));
    const v1 = v1ByTag.get(tag);
    if (v2?.active) {
      if (!v2.heldByRun && v2.currentSlots + 1 > v2.limit) {
        return full(tag);
      }
      v2Take.push({ tag, limit: v2 });
    } else if (v1) {
      const holds = v1.activeSlots.includes(input.taskRunId);
      if (!holds && v1.activeSlots.length >= v1.concurrencyLimit) {
        return full(tag);
      }
      v1Take.push(v1);
    }
  }
  return {
    status: 'ACQUIRE',
    takeV2LimitIds: v2Take.filter((e) => !e.limit.heldByRun).map((e) => e.limit.id),
    addV1Tags: v1Take.filter((l) => !l.activeSlots.includes(input.taskRunId)).map((l) => l.tag),
    limits: [
      ...v2Take.map((e) => ({ id: e.limit.id, name: e.tag, limit: e.limit.limit })),
      ...v1Take.map((l) => ({ id: l.id, name: l.tag, limit: l.concurrencyLimit })),
    ],
  };
}
