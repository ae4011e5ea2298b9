import { OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/** SCHEDULED→PENDING: the pending state keeps the scheduled time. */
export class CopyScheduledTime extends OrchestrationRule {
  readonly fromStates = states('SCHEDULED');
  readonly toStates = states('PENDING');

  override beforeTransition({ initial, state }: RuleScope): void {
    if (!initial || !state) {
      return;
    }
    if (!state.state_details.scheduled_time) {
      state.state_details.scheduled_time = initial.state_details.scheduled_time ?? null;
    }
  }
}
