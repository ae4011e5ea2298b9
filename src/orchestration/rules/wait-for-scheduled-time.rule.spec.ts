import { fromMicros } from '../../common/time/timestamp';
import { fakeContext, run, st, T0 } from '../orchestration.testing';
import { delaySeconds, WaitForScheduledTime } from './wait-for-scheduled-time.rule';

describe(WaitForScheduledTime.name, () => {
  const sut = new WaitForScheduledTime();

  it('should wait until a future scheduled time', async () => {
    const initial = st('SCHEDULED', { details: { scheduled_time: fromMicros(T0 + 30_700_000) } });
    const r = await run(fakeContext({ initial, proposed: st('RUNNING', { at: T0 + 1 }), now: T0 }), [sut]);
    expect(r).toEqual({
      state: initial,
      status: 'WAIT',
      details: { type: 'wait_details', delay_seconds: 31, reason: 'Scheduled time is in the future' },
    });
  });

  it('should accept a past scheduled time', async () => {
    const initial = st('SCHEDULED', { details: { scheduled_time: fromMicros(T0 - 1) } });
    const r = await run(fakeContext({ initial, proposed: st('RUNNING', { at: T0 + 1 }), now: T0 }), [sut]);
    expect(r.status).toBe('ACCEPT');
  });

  it('should count seconds as upstream does', () => {
    expect(delaySeconds(2_500_000)).toBe(2);
    expect(delaySeconds(2_500_001)).toBe(3);
    expect(delaySeconds(400_000)).toBe(0);
    expect(delaySeconds(-100)).toBe(0);
  });
});
