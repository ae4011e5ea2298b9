import { ObjectNotFoundError } from '../../common/errors/domain.error';
import { fakeContext, FakePorts, run, st } from '../orchestration.testing';
import { UpdateFlowRunTrackerOnTasks } from './update-flow-run-tracker-on-tasks.rule';

describe(UpdateFlowRunTrackerOnTasks.name, () => {
  const sut = new UpdateFlowRunTrackerOnTasks();

  it('should copy the flow run run_count', async () => {
    const ports = new FakePorts();
    ports.flowRuns.set('f', {
      id: 'f',
      runCount: 3,
      stateType: 'RUNNING',
      stateName: 'Running',
      stateDetails: {},
    });
    const ctx = fakeContext({
      initial: st('PENDING'),
      proposed: st('RUNNING', { at: 2 }),
      run: { flowRunId: 'f' },
      ports,
    });
    await run(ctx, [sut]);
    expect(ctx.run.flowRunRunCount).toBe(3);
  });

  it('should raise ObjectNotFoundError when the flow run is gone', async () => {
    const ctx = fakeContext({
      initial: st('PENDING'),
      proposed: st('RUNNING', { at: 2 }),
      run: { flowRunId: 'gone' },
    });
    await expect(run(ctx, [sut])).rejects.toThrow(ObjectNotFoundError);
    await expect(
      run(
        fakeContext({
          initial: st('PENDING'),
          proposed: st('RUNNING', { at: 2 }),
          run: { flowRunId: 'gone' },
        }),
        [sut],
      ),
    ).rejects.toThrow(
      /Unable to read flow run associated with task run: .*, this flow run might have been deleted/,
    );
  });
});
