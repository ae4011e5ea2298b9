import { fakeContext, run, st } from '../orchestration.testing';
import { RenameReruns } from './rename-reruns.rule';

describe(RenameReruns.name, () => {
  const sut = new RenameReruns();

  it('should name a retry "Retrying" and another rerun "Rerunning"', async () => {
    const retry = fakeContext({
      initial: st('SCHEDULED', { name: 'AwaitingRetry' }),
      proposed: st('RUNNING', { at: 2 }),
      run: { runCount: 1 },
    });
    expect((await run(retry, [sut])).state?.name).toBe('Retrying');
    const rerun = fakeContext({
      initial: st('PENDING'),
      proposed: st('RUNNING', { at: 2 }),
      run: { runCount: 1 },
    });
    expect((await run(rerun, [sut])).state?.name).toBe('Rerunning');
  });

  it('should leave a first run alone', async () => {
    const first = fakeContext({ initial: st('PENDING'), proposed: st('RUNNING', { at: 2 }) });
    expect((await run(first, [sut])).state?.name).toBe('Running');
  });
});
