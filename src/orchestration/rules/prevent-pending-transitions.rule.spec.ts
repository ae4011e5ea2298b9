import { fakeContext, run, st } from '../orchestration.testing';
import { PreventPendingTransitions } from './prevent-pending-transitions.rule';

describe(PreventPendingTransitions.name, () => {
  const sut = new PreventPendingTransitions();

  it.each(['PENDING', 'RUNNING', 'CANCELLING', 'CANCELLED'] as const)(
    'should abort %s→PENDING',
    async (from) => {
      const r = await run(fakeContext({ initial: st(from), proposed: st('PENDING', { at: 2 }) }), [sut]);
      expect(r).toMatchObject({
        status: 'ABORT',
        details: { reason: `This run is in a ${from} state and cannot transition to a PENDING state.` },
      });
    },
  );

  it('should allow a PENDING→PENDING rename and copy the scheduled time', async () => {
    const initial = st('PENDING', { details: { scheduled_time: '2026-01-01T00:00:01.000000Z' } });
    const r = await run(fakeContext({ initial, proposed: st('PENDING', { at: 2, name: 'Submitting' }) }), [
      sut,
    ]);
    expect(r.status).toBe('ACCEPT');
    expect(r.state?.state_details.scheduled_time).toBe('2026-01-01T00:00:01.000000Z');
  });

  it('should not apply from SCHEDULED', async () => {
    const r = await run(fakeContext({ initial: st('SCHEDULED'), proposed: st('PENDING', { at: 2 }) }), [sut]);
    expect(r.status).toBe('ACCEPT');
  });
});
