import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/**
 * ALL→SCHEDULED: a validated deferred state marks the run for background delivery (AwaitingRetry → the
 * retry queue, otherwise scheduled). The task-runs side enqueues it in the same transaction.
 */
export class EnqueueScheduledTasks extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('SCHEDULED');

  override afterTransition({ ctx, state }: RuleScope): void {
    if (!state || state.state_details.deferred !== true) {
      return;
    }
    ctx.enqueue = { queue: state.name === 'AwaitingRetry' ? 'retry' : 'scheduled' };
  }
}
