import { fromMicros } from '../../common/time/timestamp';
import { fakeContext, run, st, T0 } from '../orchestration.testing';
import type { TaskRunPolicy } from '../orchestration.types';
import { RetryFailedTasks } from './retry-failed-tasks.rule';

describe(RetryFailedTasks.name, () => {
  const sut = new RetryFailedTasks();
  const now = T0 + 10_000_000;
  const failing = (runCount: number, policy: TaskRunPolicy, details = {}) =>
    fakeContext({
      initial: st('RUNNING'),
      proposed: st('FAILED', { at: T0 + 1, message: 'boom', data: { type: 'unpersisted' }, details }),
      run: { runCount, empiricalPolicy: policy },
      now,
    });

  it('should reject to AwaitingRetry while retries remain', async () => {
    const r = await run(failing(1, { retries: 2, retry_delay: 5 }), [sut]);
    expect(r.status).toBe('REJECT');
    expect(r.details).toEqual({ type: 'reject_details', reason: 'Retrying' });
    expect(r.state).toMatchObject({
      type: 'SCHEDULED',
      name: 'AwaitingRetry',
      message: 'boom',
      data: { type: 'unpersisted' },
      state_details: { scheduled_time: fromMicros(now + 5_000_000) },
    });
  });

  it('should pick delays from a list by run count, clamping to the last', async () => {
    const second = await run(failing(2, { retries: 5, retry_delay: [1, 2, 3] }), [sut]);
    expect(second.state?.state_details.scheduled_time).toBe(fromMicros(now + 2_000_000));
    const fifth = await run(failing(5, { retries: 5, retry_delay: [1, 2, 3] }), [sut]);
    expect(fifth.state?.state_details.scheduled_time).toBe(fromMicros(now + 3_000_000));
  });

  it('should accept when retries are exhausted, unset, or the state is not retriable', async () => {
    expect((await run(failing(3, { retries: 2 }), [sut])).status).toBe('ACCEPT');
    expect((await run(failing(1, {}), [sut])).status).toBe('ACCEPT');
    expect((await run(failing(1, { retries: 2 }, { retriable: false }), [sut])).status).toBe('ACCEPT');
  });

  it('should honour deprecated max_retries / retry_delay_seconds', async () => {
    const r = await run(failing(1, { max_retries: 1, retry_delay_seconds: 4 }), [sut]);
    expect(r.state?.state_details.scheduled_time).toBe(fromMicros(now + 4_000_000));
  });

  it('should jitter the delay with the context random source, exactly', async () => {
    const jittered = (u: number) =>
      fakeContext({
        initial: st('RUNNING'),
        proposed: st('FAILED', { at: T0 + 1 }),
        run: { runCount: 1, empiricalPolicy: { retries: 1, retry_delay: 10, retry_jitter_factor: 0.5 } },
        now,
        random: () => u,
      });
    // clamped_poisson_interval(10, 0.5) for the draws 0.999 and 0.25 (see jitter.spec.ts), in µs.
    const high = await run(jittered(0.999), [sut]);
    expect(high.state?.state_details.scheduled_time).toBe(fromMicros(now + 14_986_126));
    const low = await run(jittered(0.25), [sut]);
    expect(low.state?.state_details.scheduled_time).toBe(fromMicros(now + 7_864_312));
  });
});
