import { fakeContext, run, st } from '../orchestration.testing';
import { CopyTaskParametersID } from './copy-task-parameters-id.rule';

describe(CopyTaskParametersID.name, () => {
  it('should copy task_parameters_id from the initial state', async () => {
    const initial = st('SCHEDULED', { details: { task_parameters_id: 'p1' } });
    const r = await run(fakeContext({ initial, proposed: st('RUNNING', { at: 2 }) }), [
      new CopyTaskParametersID(),
    ]);
    expect(r.state?.state_details.task_parameters_id).toBe('p1');
  });

  it('should not apply from RUNNING', async () => {
    const initial = st('RUNNING', { details: { task_parameters_id: 'p1' } });
    const r = await run(fakeContext({ initial, proposed: st('RUNNING', { at: 2 }) }), [
      new CopyTaskParametersID(),
    ]);
    expect(r.state?.state_details.task_parameters_id).toBeNull();
  });
});
