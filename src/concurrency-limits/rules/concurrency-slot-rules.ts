import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { PolicyEntry } from '../../orchestration/orchestration-rule';
import { TaskConcurrencyRules } from '../../orchestration/policies/task-policies';
import { ConcurrencySlotsService } from '../concurrency-slots.service';
import { ReleaseTaskConcurrencySlots } from './release-task-concurrency-slots.rule';
import { SecureTaskConcurrencySlots } from './secure-task-concurrency-slots.rule';

/**
 * The tag-concurrency rules, provided as `TaskConcurrencyRules`: the task policies splice Secure into Core
 * (after PreventRunningTasksFromStoppedFlows) and Release last into Core and Background and as Minimal's only
 * entry (docs/reference.md §4.2).
 */
@Injectable()
export class ConcurrencySlotRules extends TaskConcurrencyRules {
  private readonly secure: readonly PolicyEntry[];
  private readonly release: readonly PolicyEntry[];

  constructor(private readonly slots: ConcurrencySlotsService) {
    super();
    this.secure = [new SecureTaskConcurrencySlots(slots)];
    this.release = [new ReleaseTaskConcurrencySlots(slots)];
  }

  secureSlots(): readonly PolicyEntry[] {
    return this.secure;
  }

  releaseSlots(): readonly PolicyEntry[] {
    return this.release;
  }

  override prepareGroup(
    transaction: EntityManager,
    runs: readonly { id: string; tags: readonly string[]; fresh?: boolean }[],
  ): Promise<void> {
    return this.slots.prepareGroup(transaction, runs);
  }

  override prepareGroupByIds(transaction: EntityManager, taskRunIds: readonly string[]): Promise<void> {
    return this.slots.prepareGroupByIds(transaction, taskRunIds);
  }
}
