import { ObjectNotFoundError } from '../../common/errors/domain.error';
import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/** ALL→RUNNING: after the transition, the task run records which flow-run attempt it ran in. */
export class UpdateFlowRunTrackerOnTasks extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('RUNNING');

  override async afterTransition({ ctx }: RuleScope): Promise<void> {
    if (!ctx.run.flowRunId) {
      return;
    }
    const flowRun = await ctx.ports.readFlowRun(ctx.run.flowRunId);
    if (!flowRun) {
      throw new ObjectNotFoundError(
        `Unable to read flow run associated with task run: ${ctx.run.id}, this flow run might have been deleted`,
      );
    }
    ctx.run.flowRunRunCount = flowRun.runCount;
  }
}
