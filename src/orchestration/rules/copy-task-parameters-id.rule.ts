import { OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/** {SCHEDULED,PENDING}→{PENDING,RUNNING}: the new state keeps the task parameters id. */
export class CopyTaskParametersID extends OrchestrationRule {
  readonly fromStates = states('SCHEDULED', 'PENDING');
  readonly toStates = states('PENDING', 'RUNNING');

  override beforeTransition({ initial, state }: RuleScope): void {
    if (!initial || !state) {
      return;
    }
    if (!state.state_details.task_parameters_id) {
      state.state_details.task_parameters_id = initial.state_details.task_parameters_id ?? null;
    }
  }
}
