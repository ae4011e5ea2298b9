import { ConcurrencyLimitV2, ConcurrencyLimitV2Input, TagConcurrencyLimit } from './concurrency-limits.types';
import { ConcurrencyLimitV2CreateDto } from './dto/concurrency-limit-v2-create.dto';
import { ConcurrencyLimitV2UpdateDto } from './dto/concurrency-limit-v2-update.dto';

/** Prefect's `ConcurrencyLimit` (v1 shape). */
export interface ConcurrencyLimitResponse {
  id: string;
  created: string;
  updated: string;
  tag: string;
  concurrency_limit: number;
  active_slots: string[];
}

/** Prefect's `ConcurrencyLimitV2` (v2 shape). */
export interface ConcurrencyLimitV2Response {
  id: string;
  created: string;
  updated: string;
  active: boolean;
  name: string;
  limit: number;
  active_slots: number;
  denied_slots: number;
  slot_decay_per_second: number;
  avg_slot_occupancy_seconds: number;
}

export function toConcurrencyLimitResponse(limit: TagConcurrencyLimit): ConcurrencyLimitResponse {
  return {
    id: limit.id,
    created: limit.created,
    updated: limit.updated,
    tag: limit.tag,
    concurrency_limit: limit.concurrencyLimit,
    active_slots: limit.activeSlots,
  };
}

export function toConcurrencyLimitV2Response(limit: ConcurrencyLimitV2): ConcurrencyLimitV2Response {
  return {
    id: limit.id,
    created: limit.created,
    updated: limit.updated,
    active: limit.active,
    name: limit.name,
    limit: limit.limit,
    active_slots: limit.activeSlots,
    denied_slots: limit.deniedSlots,
    slot_decay_per_second: limit.slotDecayPerSecond,
    avg_slot_occupancy_seconds: limit.avgSlotOccupancySeconds,
  };
}

export function fromV2Create(
  dto: ConcurrencyLimitV2CreateDto,
): ConcurrencyLimitV2Input & { name: string; limit: number } {
  return {
    active: dto.active,
    name: dto.name,
    limit: dto.limit,
    activeSlots: dto.active_slots,
    deniedSlots: dto.denied_slots,
    slotDecayPerSecond: dto.slot_decay_per_second,
  };
}

/** Only the fields given a value (null counts as unset, as upstream's `exclude_unset` with non-null columns). */
export function fromV2Update(dto: ConcurrencyLimitV2UpdateDto): ConcurrencyLimitV2Input {
  return {
    active: dto.active ?? undefined,
    name: dto.name ?? undefined,
    limit: dto.limit ?? undefined,
    activeSlots: dto.active_slots ?? undefined,
    deniedSlots: dto.denied_slots ?? undefined,
    slotDecayPerSecond: dto.slot_decay_per_second ?? undefined,
  };
}
