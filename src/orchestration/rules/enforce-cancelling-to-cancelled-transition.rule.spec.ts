import { fakeContext, run, st } from '../orchestration.testing';
import { EnforceCancellingToCancelledTransition } from './enforce-cancelling-to-cancelled-transition.rule';

describe(EnforceCancellingToCancelledTransition.name, () => {
  const sut = new EnforceCancellingToCancelledTransition();

  it('should reject CANCELLING→RUNNING to the current state', async () => {
    const initial = st('CANCELLING');
    const r = await run(fakeContext({ initial, proposed: st('RUNNING', { at: 2 }) }), [sut]);
    expect(r).toMatchObject({
      status: 'REJECT',
      state: initial,
      details: { reason: 'Cannot transition flows that are cancelling to a state other than Cancelled.' },
    });
  });

  it('should allow CANCELLING→CANCELLED', async () => {
    const r = await run(fakeContext({ initial: st('CANCELLING'), proposed: st('CANCELLED', { at: 2 }) }), [
      sut,
    ]);
    expect(r.status).toBe('ACCEPT');
  });
});
