import { OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/** CANCELLING→anything but CANCELLED is refused (used by flow policies). */
export class EnforceCancellingToCancelledTransition extends OrchestrationRule {
  readonly fromStates = states('CANCELLING');
  readonly toStates = states(
    'SCHEDULED',
    'PENDING',
    'RUNNING',
    'COMPLETED',
    'FAILED',
    'CRASHED',
    'PAUSED',
    'CANCELLING',
    null,
  );

  override beforeTransition({ rejectTransition }: RuleScope): void {
    rejectTransition(null, 'Cannot transition flows that are cancelling to a state other than Cancelled.');
  }
}
