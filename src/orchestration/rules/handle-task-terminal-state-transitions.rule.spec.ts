import { ALL_STATES, OrchestrationRule, RuleScope } from '../orchestration-rule';
import { fakeContext, FakePorts, run, st } from '../orchestration.testing';
import { HandleTaskTerminalStateTransitions } from './handle-task-terminal-state-transitions.rule';

class EnforceAbort extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = ALL_STATES;
  override beforeTransition(s: RuleScope): void {
    s.abortTransition('later');
  }
}

describe(HandleTaskTerminalStateTransitions.name, () => {
  const sut = new HandleTaskTerminalStateTransitions();

  it.each(['CANCELLING', 'PAUSED', 'CRASHED'] as const)(
    'should abort a finished run going to %s',
    async (to) => {
      const r = await run(fakeContext({ initial: st('FAILED'), proposed: st(to, { at: 2 }) }), [sut]);
      expect(r).toMatchObject({ status: 'ABORT', details: { reason: 'Run is already FAILED.' } });
    },
  );

  it('should reject a completed run with a persisted result', async () => {
    const initial = st('COMPLETED', { data: { type: 'reference', storage_key: 'x' } });
    const r = await run(fakeContext({ initial, proposed: st('RUNNING', { at: 2 }) }), [sut]);
    expect(r).toMatchObject({
      status: 'REJECT',
      state: initial,
      details: { reason: 'This run is already completed.' },
    });
  });

  it('should allow a rerun of an unpersisted completion and reset run_count', async () => {
    const initial = st('COMPLETED', { data: { type: 'unpersisted' } });
    const ctx = fakeContext({ initial, proposed: st('RUNNING', { at: 2 }), run: { runCount: 3 } });
    const r = await run(ctx, [sut]);
    expect(r.status).toBe('ACCEPT');
    expect(ctx.run.runCount).toBe(0);
  });

  it('should not reset run_count for a final proposed state', async () => {
    const ctx = fakeContext({
      initial: st('FAILED'),
      proposed: st('COMPLETED', { at: 2 }),
      run: { runCount: 3 },
    });
    await run(ctx, [sut]);
    expect(ctx.run.runCount).toBe(3);
  });

  it('should rename to Retrying when the flow run has retried', async () => {
    const ports = new FakePorts();
    ports.flowRuns.set('f', {
      id: 'f',
      runCount: 2,
      stateType: 'RUNNING',
      stateName: 'Running',
      stateDetails: {},
    });
    const ctx = fakeContext({
      initial: st('FAILED'),
      proposed: st('RUNNING', { at: 2 }),
      run: { flowRunId: 'f', flowRunRunCount: 1 },
      ports,
    });
    const r = await run(ctx, [sut]);
    expect(r.state?.name).toBe('Retrying');
  });

  it('should restore run_count when it fizzles', async () => {
    const abort = new EnforceAbort();
    const ctx = fakeContext({
      initial: st('FAILED'),
      proposed: st('RUNNING', { at: 2 }),
      run: { runCount: 4 },
    });
    await run(ctx, [sut, abort]);
    expect(ctx.run.runCount).toBe(4);
  });
});
