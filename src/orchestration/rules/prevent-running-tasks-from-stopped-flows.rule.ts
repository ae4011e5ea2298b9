import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../orchestration-rule';
import { makeState } from '../state-factory';

/** ALL→RUNNING: a task inside a flow run may only start while that flow run is RUNNING (PAUSED: NotReady). */
export class PreventRunningTasksFromStoppedFlows extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('RUNNING');

  override async beforeTransition({ ctx, abortTransition, rejectTransition }: RuleScope): Promise<void> {
    if (!ctx.run.flowRunId) {
      return;
    }
    const flowRun = await ctx.ports.readFlowRun(ctx.run.flowRunId);
    const type = flowRun?.stateType ?? null;
    if (type === 'PAUSED' && flowRun) {
      const details = flowRun.stateDetails ?? {};
      const paused = makeState(
        {
          type: 'PAUSED',
          name: 'NotReady',
          state_details: {
            pause_timeout: details.pause_timeout ?? null,
            pause_reschedule: details.pause_reschedule ?? false,
          },
        },
        ctx.now,
        ctx.nowMicros / 1000,
      );
      rejectTransition(
        paused,
        `The flow is paused, new tasks can execute after resuming flow run: ${flowRun.id}.`,
      );
      return;
    }
    if (type !== 'RUNNING') {
      abortTransition('The enclosing flow must be running to begin task execution.');
    }
  }
}
