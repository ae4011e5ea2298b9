import { toMicros } from '../../common/time/timestamp';
import { OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/** Whole seconds of a µs delta as upstream counts them: floor(total) + round(µs part) (banker's rounding). */
export function delaySeconds(deltaMicros: number): number {
  const whole = Math.floor(deltaMicros / 1e6);
  const frac = deltaMicros - whole * 1e6; // in [0, 1e6)
  return whole + (frac > 500_000 ? 1 : 0);
}

/** {SCHEDULED,PENDING}→RUNNING: a run cannot start before its scheduled time. */
export class WaitForScheduledTime extends OrchestrationRule {
  readonly fromStates = states('SCHEDULED', 'PENDING');
  readonly toStates = states('RUNNING');

  override beforeTransition({ ctx, initial, delayTransition }: RuleScope): void {
    const scheduled = initial?.state_details.scheduled_time;
    if (!scheduled) {
      return;
    }
    const secs = delaySeconds(toMicros(scheduled) - ctx.nowMicros);
    if (secs > 0) {
      delayTransition(secs, 'Scheduled time is in the future');
    }
  }
}
