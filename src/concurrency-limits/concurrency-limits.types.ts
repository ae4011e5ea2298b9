import { Timestamp } from '../common/time/timestamp';

/** A v1 tag limit row (`concurrency_limit`): the holders' task-run ids are kept in `activeSlots`. */
export interface ConcurrencyLimitV1 {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  tag: string;
  concurrencyLimit: number;
  activeSlots: string[];
}

/** A v2 (global) limit row (`concurrency_limit_v2`); tag limits are named `tag:<tag>`. */
export interface ConcurrencyLimitV2 {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  active: boolean;
  name: string;
  limit: number;
  activeSlots: number;
  deniedSlots: number;
  slotDecayPerSecond: number;
  avgSlotOccupancySeconds: number;
}

export interface ConcurrencyLimitV2Input {
  active?: boolean;
  name?: string;
  limit?: number;
  activeSlots?: number;
  deniedSlots?: number;
  slotDecayPerSecond?: number;
}

/** A v1-shaped view (what `/concurrency_limits/…` answers), built from a v2 `tag:` limit or a v1 row. */
export interface TagConcurrencyLimit {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  tag: string;
  concurrencyLimit: number;
  activeSlots: string[];
}

export const TAG_LIMIT_PREFIX = 'tag:';

export function tagLimitName(tag: string): string {
  return `${TAG_LIMIT_PREFIX}${tag}`;
}

/** Holder type of the leases task runs take on v2 limits (upstream's `{type: "task_run", id}`). */
export const TASK_RUN_HOLDER = 'task_run';
