import type { TaskOrchestrationContext } from '../../orchestration/orchestration-context';
import { isNullified, UniversalTransform } from '../../orchestration/orchestration-rule';
import { orchestrationTransaction, TaskConcurrencySlots } from './task-concurrency-slots.port';

/**
 * ReleaseTaskConcurrencySlots (universal, docs/reference.md §4.3): after a transition that was not nullified (no WAIT, no
 * ABORT, no reject to "no state") into anything but RUNNING or CANCELLING, the run gives back its slots: its
 * leases on v2 limits and its place in the v1 limits of its tags. A rejection to another state (e.g.
 * RUNNING → FAILED rejected to AwaitingRetry) therefore releases too; CANCELLING keeps them.
 */
export class ReleaseTaskConcurrencySlots extends UniversalTransform {
  constructor(private readonly slots: TaskConcurrencySlots) {
    super();
  }

  override async after(ctx: TaskOrchestrationContext): Promise<void> {
    if (isNullified(ctx)) {
      return;
    }
    const validated = ctx.validatedState;
    if (!validated || validated.type === 'RUNNING' || validated.type === 'CANCELLING') {
      return;
    }
    await this.slots.release(orchestrationTransaction(ctx, this.name), ctx.run.id, ctx.run.tags);
  }
}
