import { fakeContext, run, st } from '../orchestration.testing';
import { CopyScheduledTime } from './copy-scheduled-time.rule';

describe(CopyScheduledTime.name, () => {
  it('should copy the scheduled time into an empty pending state', async () => {
    const initial = st('SCHEDULED', { details: { scheduled_time: '2026-01-01T00:00:05.000000Z' } });
    const r = await run(fakeContext({ initial, proposed: st('PENDING', { at: 2 }) }), [
      new CopyScheduledTime(),
    ]);
    expect(r.state?.state_details.scheduled_time).toBe('2026-01-01T00:00:05.000000Z');
  });

  it('should keep an explicit scheduled time', async () => {
    const initial = st('SCHEDULED', { details: { scheduled_time: '2026-01-01T00:00:05.000000Z' } });
    const proposed = st('PENDING', { at: 2, details: { scheduled_time: '2026-01-01T00:00:09.000000Z' } });
    const r = await run(fakeContext({ initial, proposed }), [new CopyScheduledTime()]);
    expect(r.state?.state_details.scheduled_time).toBe('2026-01-01T00:00:09.000000Z');
  });
});
