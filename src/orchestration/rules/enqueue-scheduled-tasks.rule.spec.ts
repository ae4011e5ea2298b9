import { fakeContext, run, st } from '../orchestration.testing';
import { EnqueueScheduledTasks } from './enqueue-scheduled-tasks.rule';

describe(EnqueueScheduledTasks.name, () => {
  const sut = new EnqueueScheduledTasks();

  it('should mark a deferred scheduled run for the scheduled queue', async () => {
    const ctx = fakeContext({ proposed: st('SCHEDULED', { details: { deferred: true } }) });
    await run(ctx, [sut]);
    expect(ctx.enqueue).toEqual({ queue: 'scheduled' });
  });

  it('should send AwaitingRetry to the retry queue', async () => {
    const ctx = fakeContext({
      initial: st('RUNNING'),
      proposed: st('SCHEDULED', { at: 2, name: 'AwaitingRetry', details: { deferred: true } }),
    });
    await run(ctx, [sut]);
    expect(ctx.enqueue).toEqual({ queue: 'retry' });
  });

  it('should not enqueue a non-deferred run', async () => {
    const ctx = fakeContext({ proposed: st('SCHEDULED') });
    await run(ctx, [sut]);
    expect(ctx.enqueue).toBeNull();
  });
});
