import { fromMicros } from '../../common/time/timestamp';
import { clampedPoissonInterval } from '../jitter';
import { OrchestrationRule, RuleScope, states } from '../orchestration-rule';
import { makeState, normalizeTaskRunPolicy } from '../state-factory';

/** RUNNING→FAILED: while retries remain, reject to AwaitingRetry scheduled after the (jittered) delay. */
export class RetryFailedTasks extends OrchestrationRule {
  readonly fromStates = states('RUNNING');
  readonly toStates = states('FAILED');

  override beforeTransition({ ctx, state, rejectTransition }: RuleScope): void {
    if (!state) {
      return;
    }
    const policy = normalizeTaskRunPolicy(ctx.run.empiricalPolicy);
    const runCount = ctx.run.runCount;
    const delays = policy.retry_delay;
    let base: number;
    if (Array.isArray(delays)) {
      base = delays.length ? delays[Math.max(0, Math.min(runCount - 1, delays.length - 1))] : 0;
    } else {
      base = delays || 0;
    }
    const jitter = policy.retry_jitter_factor;
    const delay =
      jitter != null && jitter > 0 && base > 0 ? clampedPoissonInterval(base, jitter, ctx.random) : base;
    if (state.state_details.retriable === false) {
      return;
    }
    if (policy.retries == null || runCount > policy.retries) {
      return;
    }
    const scheduledTime = fromMicros(ctx.nowMicros + Math.round(delay * 1e6));
    const retry = makeState(
      {
        type: 'SCHEDULED',
        name: 'AwaitingRetry',
        message: state.message,
        data: state.data,
        state_details: { scheduled_time: scheduledTime },
      },
      ctx.now,
      ctx.nowMicros / 1000,
    );
    rejectTransition(retry, 'Retrying');
  }
}
