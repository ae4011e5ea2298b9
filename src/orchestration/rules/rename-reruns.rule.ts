import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/** ALL→RUNNING: a run that ran before is named "Retrying" (after AwaitingRetry) or "Rerunning". */
export class RenameReruns extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('RUNNING');

  override beforeTransition({ ctx, initial, state, renameState }: RuleScope): void {
    if (!initial || !state) {
      return;
    }
    if (ctx.run.runCount > 0) {
      renameState(initial.name === 'AwaitingRetry' ? 'Retrying' : 'Rerunning');
    }
  }
}
