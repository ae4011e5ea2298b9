import { fromMicros } from '../../common/time/timestamp';
import { fakeContext, run, st, T0 } from '../orchestration.testing';
import {
  GLOBAL_TASK_TRANSFORMS,
  IncrementRunTime,
  IncrementTaskRunCount,
  SetEndTime,
  SetExpectedStartTime,
  SetNextScheduledStartTime,
  SetRunStateName,
  SetRunStateTimestamp,
  SetRunStateType,
  SetStartTime,
  UpdateStateDetails,
} from './global-task-transforms';

describe('GlobalTaskPolicy transforms', () => {
  const at = (s: number) => T0 + s * 1_000_000;

  it('should copy the state type, name and timestamp onto the run', async () => {
    const ctx = fakeContext({ proposed: st('PENDING', { at: at(1), name: 'Submitting' }) });
    await run(ctx, [], [new SetRunStateType(), new SetRunStateName(), new SetRunStateTimestamp()]);
    expect(ctx.run).toMatchObject({
      stateType: 'PENDING',
      stateName: 'Submitting',
      stateTimestamp: fromMicros(at(1)),
    });
  });

  it('should set start_time on the first RUNNING only', async () => {
    const ctx = fakeContext({ initial: st('PENDING'), proposed: st('RUNNING', { at: at(2) }) });
    await run(ctx, [], [new SetStartTime()]);
    expect(ctx.run.startTime).toBe(fromMicros(at(2)));
    const again = fakeContext({
      initial: st('PENDING'),
      proposed: st('RUNNING', { at: at(5) }),
      run: { startTime: fromMicros(at(2)) },
    });
    await run(again, [], [new SetStartTime()]);
    expect(again.run.startTime).toBe(fromMicros(at(2)));
  });

  it('should set end_time (and a missing start_time) entering a final state, and clear it leaving one', async () => {
    const ctx = fakeContext({ initial: st('PENDING'), proposed: st('COMPLETED', { at: at(3) }) });
    await run(ctx, [], [new SetEndTime()]);
    expect(ctx.run).toMatchObject({ endTime: fromMicros(at(3)), startTime: fromMicros(at(3)) });
    const leaving = fakeContext({
      initial: st('FAILED'),
      proposed: st('RUNNING', { at: at(4) }),
      run: { endTime: fromMicros(at(3)) },
    });
    await run(leaving, [], [new SetEndTime()]);
    expect(leaving.run.endTime).toBeNull();
    const finalToFinal = fakeContext({
      initial: st('FAILED'),
      proposed: st('COMPLETED', { at: at(4) }),
      run: { endTime: fromMicros(at(3)) },
    });
    await run(finalToFinal, [], [new SetEndTime()]);
    expect(finalToFinal.run.endTime).toBe(fromMicros(at(3)));
  });

  it('should add time spent RUNNING to total_run_time', async () => {
    const ctx = fakeContext({
      initial: st('RUNNING', { at: at(1) }),
      proposed: st('COMPLETED', { at: at(3) + 500_000 }),
      run: { totalRunTime: 1 },
    });
    await run(ctx, [], [new IncrementRunTime()]);
    expect(ctx.run.totalRunTime).toBeCloseTo(3.5);
  });

  it('should set expected_start_time from the scheduled time or the timestamp, once', async () => {
    const sched = fakeContext({
      proposed: st('SCHEDULED', { at: at(1), details: { scheduled_time: fromMicros(at(9)) } }),
    });
    await run(sched, [], [new SetExpectedStartTime()]);
    expect(sched.run.expectedStartTime).toBe(fromMicros(at(9)));
    const pending = fakeContext({ proposed: st('PENDING', { at: at(1) }) });
    await run(pending, [], [new SetExpectedStartTime()]);
    expect(pending.run.expectedStartTime).toBe(fromMicros(at(1)));
  });

  it('should track next_scheduled_start_time', async () => {
    const entering = fakeContext({
      proposed: st('SCHEDULED', { at: at(1), details: { scheduled_time: fromMicros(at(7)) } }),
    });
    await run(entering, [], [new SetNextScheduledStartTime()]);
    expect(entering.run.nextScheduledStartTime).toBe(fromMicros(at(7)));
    const leaving = fakeContext({
      initial: st('SCHEDULED'),
      proposed: st('PENDING', { at: at(2) }),
      run: { nextScheduledStartTime: fromMicros(at(7)) },
    });
    await run(leaving, [], [new SetNextScheduledStartTime()]);
    expect(leaving.run.nextScheduledStartTime).toBeNull();
  });

  it('should stamp run ids into the state details', async () => {
    const ctx = fakeContext({ proposed: st('PENDING'), run: { flowRunId: 'f' } });
    const r = await run(ctx, [], [new UpdateStateDetails()]);
    expect(r.state?.state_details).toMatchObject({ flow_run_id: 'f', task_run_id: ctx.run.id });
  });

  it('should count RUNNING entries', async () => {
    const ctx = fakeContext({
      initial: st('PENDING'),
      proposed: st('RUNNING', { at: at(1) }),
      run: { runCount: 1 },
    });
    await run(ctx, [], [new IncrementTaskRunCount()]);
    expect(ctx.run.runCount).toBe(2);
  });

  it('should do nothing on a nullified transition', async () => {
    const ctx = fakeContext({ initial: st('PENDING'), proposed: null });
    await run(ctx, [], GLOBAL_TASK_TRANSFORMS);
    expect(ctx.run).toMatchObject({
      stateType: 'PENDING',
      runCount: 0,
      startTime: null,
      expectedStartTime: null,
    });
  });
});
