import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { NotFoundError } from '../common/errors/domain.error';
import { AppConfig } from '../config/app-config';
import { ConcurrencyLimitsRepository } from './concurrency-limits.repository';
import {
  ConcurrencyLimitV1,
  ConcurrencyLimitV2,
  TagConcurrencyLimit,
  tagLimitName,
} from './concurrency-limits.types';
import { resolveLimit } from './page';
import { IncrementPlan, MinimalLimit, planClientIncrement, tagOfLimitName } from './slot-plan';

export type IncrementResult =
  Exclude<IncrementPlan, { status: 'ACQUIRE' }> | { status: 'ACQUIRED'; limits: MinimalLimit[] };

const NOT_FOUND = 'Concurrency limit not found';

/**
 * Tag (v1) concurrency limits: `/concurrency_limits/…`. As upstream today, the v1 API is an adapter over v2
 * limits named `tag:<tag>`: creating a tag limit creates (or updates) that v2 limit, and its `active_slots`
 * are the task runs holding a lease on it. Legacy rows of the v1 `concurrency_limit` table are still read,
 * reset and deleted when no v2 limit exists for the tag, and still enforced by the task policy.
 */
@Injectable()
export class ConcurrencyLimitsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repo: ConcurrencyLimitsRepository,
    private readonly config: AppConfig,
  ) {}

  /** Upsert by tag; `created` tells the controller whether to answer 201 or 200. */
  async create(
    tag: string,
    concurrencyLimit: number,
  ): Promise<{ limit: TagConcurrencyLimit; created: boolean }> {
    return this.dataSource.transaction(async (m) => {
      const name = tagLimitName(tag);
      const existing = await this.repo.findV2(m, { name });
      const model = existing
        ? await this.repo.updateV2(m, { id: existing.id }, { limit: concurrencyLimit })
        : await this.repo.insertV2(m, { name, limit: concurrencyLimit, active: true });
      return { limit: await this.fromV2(m, model!, tag), created: !existing };
    });
  }

  async readById(id: string): Promise<TagConcurrencyLimit> {
    const m = this.dataSource.manager;
    const v2 = await this.repo.findV2(m, { id });
    const tag = v2 ? tagOfLimitName(v2.name) : null;
    if (v2 && tag !== null) {
      return this.fromV2(m, v2, tag);
    }
    const v1 = await this.repo.findV1ById(m, id);
    if (!v1) {
      throw new NotFoundError(NOT_FOUND);
    }
    return fromV1(v1);
  }

  async readByTag(tag: string): Promise<TagConcurrencyLimit> {
    const m = this.dataSource.manager;
    const v2 = await this.repo.findV2(m, { name: tagLimitName(tag) });
    if (v2) {
      return this.fromV2(m, v2, tag);
    }
    const v1 = await this.repo.findV1ByTag(m, tag);
    if (!v1) {
      throw new NotFoundError(NOT_FOUND);
    }
    return fromV1(v1);
  }

  /** The `tag:` v2 limits (by name), then the v1 rows (by tag) whose tag has none, paged together. */
  async list(page: { limit?: number | null; offset?: number }): Promise<TagConcurrencyLimit[]> {
    const limit = resolveLimit(page.limit, this.config.api.defaultLimit);
    const offset = page.offset ?? 0;
    const m = this.dataSource.manager;
    const v2 = await this.repo.listV2(m, { limit: limit + offset, offset: 0 }, true);
    const v1 = await this.repo.listV1(m, { limit: limit + offset, offset: 0 });
    const holders = await this.repo.taskRunHolders(
      m,
      v2.map((l) => l.id),
    );
    const converted = v2.map((l) => toTagLimit(l, tagOfLimitName(l.name)!, holders.get(l.id) ?? []));
    const seen = new Set(converted.map((l) => l.tag));
    const combined = [...converted, ...v1.filter((l) => !seen.has(l.tag)).map(fromV1)];
    return combined.slice(offset, offset + limit);
  }

  /**
   * Replaces the holders of the tag's limit with `slotOverride` (none by default): on the v2 `tag:` limit its
   * leases and slot count, else the v1 row's `active_slots`.
   */
  async resetByTag(tag: string, slotOverride: string[] | null | undefined): Promise<void> {
    const holders = [...new Set((slotOverride ?? []).map((id) => id.toLowerCase()))];
    await this.dataSource.transaction(async (m) => {
      const v2 = await this.repo.findV2(m, { name: tagLimitName(tag) });
      if (v2) {
        await this.repo.replaceTaskRunLeases(m, v2.id, holders);
        await this.repo.resetV1(m, tag, holders);
        return;
      }
      if (!(await this.repo.resetV1(m, tag, holders))) {
        throw new NotFoundError(NOT_FOUND);
      }
    });
  }

  /** Deletes the v2 limit with this id (its leases go with it), else the v1 row. */
  async deleteById(id: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      if (await this.repo.deleteV2(m, { id })) {
        return;
      }
      if (!(await this.repo.deleteV1(m, { id }))) {
        throw new NotFoundError(NOT_FOUND);
      }
    });
  }

  async deleteByTag(tag: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      if (await this.repo.deleteV2(m, { name: tagLimitName(tag) })) {
        return;
      }
      if (!(await this.repo.deleteV1(m, { tag }))) {
        throw new NotFoundError(NOT_FOUND);
      }
    });
  }

  /**
   * `POST /concurrency_limits/increment`: a task run (client-side orchestration) takes a slot on its tags'
   * limits, locked in the same order as the task policy's, or learns why not (the controller answers 423).
   */
  async increment(names: string[], taskRunId: string): Promise<IncrementResult> {
    const runId = taskRunId.toLowerCase();
    return this.dataSource.transaction(async (m) => {
      const tags = [...new Set(names)];
      const v2Limits = await this.repo.lockV2ByNames(m, tags.map(tagLimitName), runId);
      const v1Limits = await this.repo.lockV1ByTags(m, tags);
      const plan = planClientIncrement({
        taskRunId: runId,
        tags,
        v2Limits,
        v1Limits,
        slotWaitSeconds: this.config.tasks.tagConcurrencySlotWaitSeconds,
      });
      if (plan.status === 'LOCKED') {
        return plan;
      }
      await this.repo.takeV2Slots(m, plan.takeV2LimitIds, runId);
      await this.repo.addV1Holder(m, plan.addV1Tags, runId);
      return { status: 'ACQUIRED', limits: plan.limits };
    });
  }

  /**
   * `POST /concurrency_limits/decrement`: the task run gives back its slots on these tags: its leases on their
   * v2 limits, and its place in the v1 limits of tags without a v2 one. Answers the limits concerned.
   */
  async decrement(names: string[], taskRunId: string): Promise<MinimalLimit[]> {
    const runId = taskRunId.toLowerCase();
    return this.dataSource.transaction(async (m) => {
      const tags = [...new Set(names)];
      const v2Limits = await this.repo.lockV2ByNames(m, tags.map(tagLimitName), runId);
      const v1Limits = await this.repo.lockV1ByTags(m, tags);
      if (v2Limits.length) {
        await this.repo.releaseV2Leases(m, runId, {
          limitIds: v2Limits.map((l) => l.id),
          recordOccupancy: true,
        });
      }
      const v2Names = new Set(v2Limits.map((l) => l.name));
      const v1Released = v1Limits.filter(
        (l) => !v2Names.has(tagLimitName(l.tag)) && l.activeSlots.includes(runId),
      );
      await this.repo.removeV1Holder(
        m,
        v1Released.map((l) => l.tag),
        runId,
      );
      return [
        ...v2Limits.map((l) => ({ id: l.id, name: l.name, limit: l.limit })),
        ...v1Released.map((l) => ({ id: l.id, name: l.tag, limit: l.concurrencyLimit })),
      ];
    });
  }

  private async fromV2(
    m: EntityManager,
    limit: ConcurrencyLimitV2,
    tag: string,
  ): Promise<TagConcurrencyLimit> {
    const holders = await this.repo.taskRunHolders(m, [limit.id]);
    return toTagLimit(limit, tag, holders.get(limit.id) ?? []);
  }
}

function toTagLimit(limit: ConcurrencyLimitV2, tag: string, holders: string[]): TagConcurrencyLimit {
  return {
    id: limit.id,
    created: limit.created,
    updated: limit.updated,
    tag,
    concurrencyLimit: limit.limit,
    activeSlots: holders,
  };
}

function fromV1(limit: ConcurrencyLimitV1): TagConcurrencyLimit {
  return { ...limit };
}
