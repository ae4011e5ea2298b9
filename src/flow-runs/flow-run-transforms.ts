import { toMicros } from '../common/time/timestamp';
import type { OrchestrationState } from '../orchestration/orchestration.types';
import { isTerminal } from '../orchestration/states';

/** The run fields the flow-run global transforms maintain. */
export interface FlowRunTimes {
  id: string;
  runCount: number;
  startTime: string | null;
  endTime: string | null;
  expectedStartTime: string | null;
  nextScheduledStartTime: string | null;
  totalRunTime: number;
}

/**
 * docs/reference.md §2: flow-run set_state applies the global transforms only: state fields (done by the caller),
 * run_count +1 on entering RUNNING, start/end times, run time, expected / next scheduled start.
 */
export function applyFlowRunTransforms(
  run: FlowRunTimes,
  initial: OrchestrationState | null,
  proposed: OrchestrationState,
): void {
  proposed.state_details.flow_run_id = run.id;
  if (proposed.type === 'RUNNING') {
    run.runCount += 1;
    if (run.startTime == null) {
      run.startTime = proposed.timestamp;
    }
  }
  const wasFinal = isTerminal(initial?.type);
  const final = isTerminal(proposed.type);
  if (wasFinal && !final) {
    run.endTime = null;
  } else if (final && run.endTime == null) {
    run.endTime = proposed.timestamp;
    if (run.startTime == null) {
      run.startTime = proposed.timestamp;
    }
  }
  if (initial?.type === 'RUNNING') {
    run.totalRunTime += (toMicros(proposed.timestamp) - toMicros(initial.timestamp)) / 1e6;
  }
  if (run.expectedStartTime == null) {
    run.expectedStartTime =
      proposed.type === 'SCHEDULED' && proposed.state_details.scheduled_time
        ? proposed.state_details.scheduled_time
        : proposed.timestamp;
  }
  if (initial?.type === 'SCHEDULED') {
    run.nextScheduledStartTime = null;
  }
  if (proposed.type === 'SCHEDULED') {
    run.nextScheduledStartTime = proposed.state_details.scheduled_time ?? null;
  }
}
