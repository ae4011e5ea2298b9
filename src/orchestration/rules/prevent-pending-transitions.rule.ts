import { OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/**
 * {PENDING,CANCELLING,RUNNING,CANCELLED}→PENDING: aborted, except a PENDING→PENDING rename to a name other
 * than "Pending" (which keeps the scheduled time and deployment lease).
 */
export class PreventPendingTransitions extends OrchestrationRule {
  readonly fromStates = states('PENDING', 'CANCELLING', 'RUNNING', 'CANCELLED');
  readonly toStates = states('PENDING');

  override beforeTransition({ initial, state, abortTransition }: RuleScope): void {
    if (!initial || !state) {
      return;
    }
    if (initial.type === 'PENDING' && state.name !== initial.name && state.name !== 'Pending') {
      const details = state.state_details;
      if (!details.scheduled_time) {
        details.scheduled_time = initial.state_details.scheduled_time ?? null;
      }
      if (!details.deployment_concurrency_lease_id) {
        details.deployment_concurrency_lease_id =
          initial.state_details.deployment_concurrency_lease_id ?? null;
      }
      return;
    }
    abortTransition(`This run is in a ${initial.type} state and cannot transition to a PENDING state.`);
  }
}
