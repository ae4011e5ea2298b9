import { fakeContext, FakePorts, run, st } from '../orchestration.testing';
import { PreventRunningTasksFromStoppedFlows } from './prevent-running-tasks-from-stopped-flows.rule';

describe(PreventRunningTasksFromStoppedFlows.name, () => {
  const sut = new PreventRunningTasksFromStoppedFlows();
  const ports = new FakePorts();
  ports.flowRuns.set('running', {
    id: 'running',
    runCount: 1,
    stateType: 'RUNNING',
    stateName: 'Running',
    stateDetails: {},
  });
  ports.flowRuns.set('done', {
    id: 'done',
    runCount: 1,
    stateType: 'COMPLETED',
    stateName: 'Completed',
    stateDetails: {},
  });
  ports.flowRuns.set('paused', {
    id: 'paused',
    runCount: 1,
    stateType: 'PAUSED',
    stateName: 'Paused',
    stateDetails: { pause_timeout: '2026-01-02T00:00:00.000000Z', pause_reschedule: true },
  });

  const ctxFor = (flowRunId: string | null) =>
    fakeContext({ initial: st('PENDING'), proposed: st('RUNNING', { at: 2 }), run: { flowRunId }, ports });

  it('should accept without a flow run or with a running one', async () => {
    expect((await run(ctxFor(null), [sut])).status).toBe('ACCEPT');
    expect((await run(ctxFor('running'), [sut])).status).toBe('ACCEPT');
  });

  it('should abort when the flow run is not running', async () => {
    for (const id of ['done', 'missing']) {
      const r = await run(ctxFor(id), [sut]);
      expect(r).toMatchObject({
        status: 'ABORT',
        details: { reason: 'The enclosing flow must be running to begin task execution.' },
      });
    }
  });

  it('should reject to NotReady when the flow run is paused', async () => {
    const r = await run(ctxFor('paused'), [sut]);
    expect(r.status).toBe('REJECT');
    expect(r.details).toEqual({
      type: 'reject_details',
      reason: 'The flow is paused, new tasks can execute after resuming flow run: paused.',
    });
    expect(r.state).toMatchObject({
      type: 'PAUSED',
      name: 'NotReady',
      state_details: { pause_timeout: '2026-01-02T00:00:00.000000Z', pause_reschedule: true },
    });
  });
});
