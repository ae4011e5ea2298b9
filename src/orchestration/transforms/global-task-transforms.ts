import { toMicros } from '../../common/time/timestamp';
import type { TaskOrchestrationContext } from '../orchestration-context';
import { UniversalTransform } from '../orchestration-rule';
import { isTerminal } from '../states';

/**
 * GlobalTaskPolicy (docs/reference.md §4.5): universal transforms that keep the run row's denormalised fields in step
 * with its state. All are no-ops on a nullified transition (no proposed state).
 */
export class SetRunStateType extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    if (ctx.proposedState) {
      ctx.run.stateType = ctx.proposedState.type;
    }
  }
}

export class SetRunStateName extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    if (ctx.proposedState) {
      ctx.run.stateName = ctx.proposedState.name;
    }
  }
}

export class SetRunStateTimestamp extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    if (ctx.proposedState) {
      ctx.run.stateTimestamp = ctx.proposedState.timestamp;
    }
  }
}

export class SetStartTime extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    const proposed = ctx.proposedState;
    if (proposed?.type === 'RUNNING' && ctx.run.startTime == null) {
      ctx.run.startTime = proposed.timestamp;
    }
  }
}

export class SetEndTime extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    const proposed = ctx.proposedState;
    if (!proposed) {
      return;
    }
    const wasFinal = isTerminal(ctx.initialType);
    const isFinal = isTerminal(proposed.type);
    if (wasFinal && !isFinal) {
      ctx.run.endTime = null;
    } else if (isFinal && ctx.run.endTime == null) {
      ctx.run.endTime = proposed.timestamp;
      if (ctx.run.startTime == null) {
        ctx.run.startTime = proposed.timestamp;
      }
    }
  }
}

export class IncrementRunTime extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    const proposed = ctx.proposedState;
    const initial = ctx.initialState;
    if (!proposed || initial?.type !== 'RUNNING') {
      return;
    }
    ctx.run.totalRunTime += (toMicros(proposed.timestamp) - toMicros(initial.timestamp)) / 1e6;
  }
}

export class SetExpectedStartTime extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    const proposed = ctx.proposedState;
    if (!proposed || ctx.run.expectedStartTime != null) {
      return;
    }
    ctx.run.expectedStartTime =
      proposed.type === 'SCHEDULED' && proposed.state_details.scheduled_time
        ? proposed.state_details.scheduled_time
        : proposed.timestamp;
  }
}

export class SetNextScheduledStartTime extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    const proposed = ctx.proposedState;
    if (!proposed) {
      return;
    }
    if (ctx.initialType === 'SCHEDULED') {
      ctx.run.nextScheduledStartTime = null;
    }
    if (proposed.type === 'SCHEDULED') {
      ctx.run.nextScheduledStartTime = proposed.state_details.scheduled_time ?? null;
    }
  }
}

export class UpdateStateDetails extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    const proposed = ctx.proposedState;
    if (!proposed) {
      return;
    }
    proposed.state_details.flow_run_id = ctx.run.flowRunId;
    proposed.state_details.task_run_id = ctx.run.id;
  }
}

export class IncrementTaskRunCount extends UniversalTransform {
  override before(ctx: TaskOrchestrationContext): void {
    if (ctx.proposedState?.type === 'RUNNING') {
      ctx.run.runCount += 1;
    }
  }
}

/** GlobalTaskPolicy, in order; always innermost. */
export const GLOBAL_TASK_TRANSFORMS: readonly UniversalTransform[] = [
  new SetRunStateType(),
  new SetRunStateName(),
  new SetRunStateTimestamp(),
  new SetStartTime(),
  new SetEndTime(),
  new IncrementRunTime(),
  new SetExpectedStartTime(),
  new SetNextScheduledStartTime(),
  new UpdateStateDetails(),
  new IncrementTaskRunCount(),
];
