import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { EntityManager } from 'typeorm';
import { MetricsService } from '../common/metrics/metrics.service';
import { AppConfig } from '../config/app-config';
import { ConcurrencyLimitsRepository } from './concurrency-limits.repository';
import { tagLimitName } from './concurrency-limits.types';
import { planSlotAcquisition } from './slot-plan';
import { RandomSource } from './slot-wait';

/** The slots one `secure` call took (not the ones the run already held), so a fizzled rule can give them back. */
export interface AcquiredSlots {
  v2LimitIds: string[];
  v1Tags: string[];
}

export type SlotDecision =
  | { status: 'ACCEPT'; acquired: AcquiredSlots }
  | { status: 'ABORT'; reason: string }
  | { status: 'WAIT'; delaySeconds: number; reason: string };

/**
 * Tag concurrency slots for task runs (docs/reference.md §4.4), race-free under concurrent `set_state` calls: every method
 * runs in the caller's transaction (the orchestration one, with the run row locked) and locks the limit rows
 * it decides on, v2 limits in name order then v1 limits in tag order. Two transactions competing for the last
 * slot therefore serialise on the limit row, and the second one sees the first one's slot; the fixed lock
 * order rules out deadlocks between runs with overlapping tags. Slots taken in the transaction vanish with
 * it if it rolls back, so a failed transition cannot leak a slot.
 */
@Injectable()
export class ConcurrencySlotsService implements OnModuleInit {
  /** Overridable in tests: the random source of the clamped-Poisson wait. */
  random: RandomSource = Math.random;
  private decisions?: Counter<'decision'>;
  /**
   * Per-transaction hints of a group commit (`prepareGroup`): which of the group's tags have a limit at all and
   * which of its runs hold a slot, read by one probe, so runs whose tags have no limit skip their per-run queries.
   */
  private readonly hints = new WeakMap<
    EntityManager,
    { limitedTags: Set<string> | null; holders: Set<string> }
  >();

  constructor(
    private readonly repo: ConcurrencyLimitsRepository,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.decisions = this.metrics.counter(
      'prefect_task_concurrency_slot_decisions_total',
      'Tag concurrency slot decisions for task runs entering RUNNING (ACCEPT, WAIT, ABORT).',
      ['decision'],
    );
  }

  /**
   * One probe for a group of runs about to be orchestrated in `manager`'s transaction (group commit): the tags
   * with any limit and the runs holding any slot. Until the transaction ends, `secure` skips runs none of whose
   * tags has a limit (as if it had locked no limit row) and `release` skips runs holding nothing.
   */
  async prepareGroup(
    manager: EntityManager,
    runs: readonly { id: string; tags: readonly string[]; fresh?: boolean }[],
  ): Promise<void> {
    const tags = [...new Set(runs.flatMap((r) => r.tags))];
    if (!tags.length) {
      return;
    }
    if (runs.every((r) => r.fresh)) {
      // Runs under ids generated for this create hold nothing (no probe); which tags are limited stays unknown,
      // so `secure` still asks per run.
      this.hints.set(manager, { limitedTags: null, holders: new Set() });
      return;
    }
    if (runs.length < 2) {
      return;
    }
    const probe = await this.repo.groupSlotProbe(
      manager,
      tags,
      tags.map(tagLimitName),
      runs.map((r) => r.id),
    );
    this.hints.set(manager, { limitedTags: new Set(probe.limitedTags), holders: new Set(probe.holders) });
  }

  /**
   * `prepareGroup` for runs known by id only, to be sent right behind the statement that locks their rows in
   * `manager`'s pipelined transaction (their tags are read from the locked rows by the probe itself): the probe
   * then costs no round trip of its own, for a group of any size (docs/performance.md, "Fifth round").
   */
  async prepareGroupByIds(manager: EntityManager, taskRunIds: readonly string[]): Promise<void> {
    if (!taskRunIds.length) {
      return;
    }
    const probe = await this.repo.groupSlotProbeByIds(manager, [...taskRunIds]);
    this.hints.set(manager, { limitedTags: new Set(probe.limitedTags), holders: new Set(probe.holders) });
  }

  /** Takes one slot on every limit of the run's tags, or answers why it cannot run now (nothing taken then). */
  async secure(manager: EntityManager, taskRunId: string, tags: readonly string[]): Promise<SlotDecision> {
    const distinct = [...new Set(tags)];
    if (!distinct.length) {
      return { status: 'ACCEPT', acquired: { v2LimitIds: [], v1Tags: [] } };
    }
    const hint = this.hints.get(manager);
    if (hint?.limitedTags && distinct.every((t) => !hint.limitedTags!.has(t))) {
      this.decisions?.inc({ decision: 'ACCEPT' });
      return { status: 'ACCEPT', acquired: { v2LimitIds: [], v1Tags: [] } };
    }
    const v2Limits = await this.repo.lockV2ByNames(manager, distinct.map(tagLimitName), taskRunId);
    const v1Limits = await this.repo.lockV1ByTags(manager, distinct);
    const plan = planSlotAcquisition({
      taskRunId,
      tags: distinct,
      v2Limits,
      v1Limits,
      slotWaitSeconds: this.config.tasks.tagConcurrencySlotWaitSeconds,
      random: this.random,
    });
    this.decisions?.inc({ decision: plan.status });
    switch (plan.status) {
      case 'ABORT':
        return { status: 'ABORT', reason: plan.reason };
      case 'WAIT':
        return { status: 'WAIT', delaySeconds: plan.delaySeconds, reason: plan.reason };
      case 'ACCEPT':
        await this.repo.takeV2Slots(manager, plan.takeV2LimitIds, taskRunId);
        await this.repo.addV1Holder(manager, plan.addV1Tags, taskRunId);
        this.hints.get(manager)?.holders.add(taskRunId);
        return { status: 'ACCEPT', acquired: { v2LimitIds: plan.takeV2LimitIds, v1Tags: plan.addV1Tags } };
    }
  }

  /**
   * Gives back what one `secure` call took (the rule fizzled: a later rule changed the transition). Slots the
   * run held before that call stay held.
   */
  async undo(manager: EntityManager, taskRunId: string, acquired: AcquiredSlots): Promise<void> {
    if (acquired.v2LimitIds.length) {
      await this.repo.releaseV2Leases(manager, taskRunId, {
        limitIds: acquired.v2LimitIds,
        recordOccupancy: false,
      });
    }
    await this.repo.removeV1Holder(manager, acquired.v1Tags, taskRunId);
  }

  /**
   * Releases every slot the run holds: its leases on v2 limits (their holding time updates the limits'
   * `avg_slot_occupancy_seconds`) and its place in the v1 limits of its tags. Idempotent. A run without tags
   * holds no tag slot (as upstream, which looks them up by tag), so it costs no query; a run holding none costs
   * one probe.
   */
  async release(manager: EntityManager, taskRunId: string, tags: readonly string[]): Promise<void> {
    if (!tags.length) {
      return;
    }
    const hint = this.hints.get(manager);
    if (hint && !hint.holders.has(taskRunId)) {
      return;
    }
    const distinct = [...new Set(tags)];
    const held = await this.repo.heldSlots(manager, taskRunId, distinct);
    if (held.v2) {
      await this.repo.releaseV2Leases(manager, taskRunId, { recordOccupancy: true });
    }
    if (held.v1) {
      await this.repo.removeV1Holder(manager, distinct, taskRunId);
    }
  }
}
