import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../../orchestration/orchestration-rule';
import type { AcquiredSlots } from '../concurrency-slots.service';
import { orchestrationTransaction, TaskConcurrencySlots } from './task-concurrency-slots.port';

/** Where the slots taken by this orchestration are kept (rule instances are shared between orchestrations). */
export const ACQUIRED_SLOTS = 'SecureTaskConcurrencySlots.acquired';

/**
 * SecureTaskConcurrencySlots (ALL → RUNNING, docs/reference.md §4.4): takes a slot on every tag limit of the run (v2
 * `tag:<tag>` limits first, then v1 limits of tags without an active v2 one), in the orchestration transaction
 * with the limit rows locked. A zero limit aborts, a full one makes the client wait; on fizzle (a later rule
 * changed the transition) the slots it took are given back.
 */
export class SecureTaskConcurrencySlots extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('RUNNING');

  constructor(private readonly slots: TaskConcurrencySlots) {
    super();
  }

  override async beforeTransition(scope: RuleScope): Promise<void> {
    const { ctx } = scope;
    const decision = await this.slots.secure(
      orchestrationTransaction(ctx, this.name),
      ctx.run.id,
      ctx.run.tags,
    );
    switch (decision.status) {
      case 'ACCEPT':
        ctx.parameters.set(ACQUIRED_SLOTS, decision.acquired);
        return;
      case 'ABORT':
        scope.abortTransition(decision.reason);
        return;
      case 'WAIT':
        scope.delayTransition(decision.delaySeconds, decision.reason);
        return;
    }
  }

  override async cleanup(scope: RuleScope): Promise<void> {
    const { ctx } = scope;
    const acquired = ctx.parameters.get(ACQUIRED_SLOTS) as AcquiredSlots | undefined;
    if (!acquired) {
      return;
    }
    ctx.parameters.delete(ACQUIRED_SLOTS);
    await this.slots.undo(orchestrationTransaction(ctx, this.name), ctx.run.id, acquired);
  }
}
