import { ALL_STATES, OrchestrationRule, RuleScope, TERMINAL_STATES } from '../orchestration-rule';
import { hasPersistedResult } from '../state-factory';
import { isTerminal } from '../states';

const RUN_COUNT = 'HandleTaskTerminalStateTransitions.runCount';

/**
 * TERMINAL→ALL: a finished run cannot be cancelled, paused or crashed; a completed run with a persisted
 * result cannot rerun; a rerun resets `run_count`, and is named "Retrying" when its flow run retried.
 */
export class HandleTaskTerminalStateTransitions extends OrchestrationRule {
  readonly fromStates = TERMINAL_STATES;
  readonly toStates = ALL_STATES;

  override async beforeTransition({
    ctx,
    initial,
    state,
    abortTransition,
    rejectTransition,
    renameState,
  }: RuleScope): Promise<void> {
    if (!initial || !state) {
      return;
    }
    ctx.parameters.set(RUN_COUNT, ctx.run.runCount);
    if (state.type === 'CANCELLING' || state.type === 'PAUSED' || state.type === 'CRASHED') {
      abortTransition(`Run is already ${initial.type}.`);
      return;
    }
    if (initial.type === 'COMPLETED' && hasPersistedResult(initial.data)) {
      rejectTransition(null, 'This run is already completed.');
      return;
    }
    if (!isTerminal(state.type)) {
      ctx.run.runCount = 0;
    }
    if (state.type === 'RUNNING' && ctx.run.flowRunId) {
      const flowRun = await ctx.ports.readFlowRun(ctx.run.flowRunId);
      if (flowRun && ctx.run.flowRunRunCount < flowRun.runCount) {
        renameState('Retrying');
      }
    }
  }

  override cleanup({ ctx }: RuleScope): void {
    const saved = ctx.parameters.get(RUN_COUNT);
    if (typeof saved === 'number') {
      ctx.run.runCount = saved;
    }
  }
}
