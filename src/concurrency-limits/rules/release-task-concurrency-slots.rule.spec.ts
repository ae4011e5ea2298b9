import type { EntityManager } from 'typeorm';
import { TaskOrchestrationContext } from '../../orchestration/orchestration-context';
import { ALL_STATES, OrchestrationRule, RuleScope } from '../../orchestration/orchestration-rule';
import { orchestrate } from '../../orchestration/orchestration.engine';
import { FakePorts, fakeRun, st, T0 } from '../../orchestration/orchestration.testing';
import type { OrchestrationState } from '../../orchestration/orchestration.types';
import type { StateType } from '../../orchestration/states';
import { ReleaseTaskConcurrencySlots } from './release-task-concurrency-slots.rule';
import type { TaskConcurrencySlots } from './task-concurrency-slots.port';

const TX = { tx: true } as unknown as EntityManager;

function fakeSlots() {
  return {
    secure: jest.fn<ReturnType<TaskConcurrencySlots['secure']>, Parameters<TaskConcurrencySlots['secure']>>(),
    undo: jest.fn<Promise<void>, Parameters<TaskConcurrencySlots['undo']>>(() => Promise.resolve()),
    release: jest.fn<Promise<void>, Parameters<TaskConcurrencySlots['release']>>(() => Promise.resolve()),
  };
}

function context(initial: OrchestrationState | null, proposed: OrchestrationState) {
  return new TaskOrchestrationContext({
    run: fakeRun({ tags: ['a'], stateType: initial?.type ?? null }),
    initialState: initial,
    proposedState: proposed,
    ports: new FakePorts(),
    nowMicros: T0 + 1_000_000,
    transaction: TX,
  });
}

class Reject extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = ALL_STATES;
  constructor(private readonly to: OrchestrationState | null) {
    super();
  }
  override beforeTransition(scope: RuleScope): void {
    scope.rejectTransition(this.to, 'rejected');
  }
}

class Abort extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = ALL_STATES;
  override beforeTransition(scope: RuleScope): void {
    scope.abortTransition('no');
  }
}

describe(ReleaseTaskConcurrencySlots.name, () => {
  it.each<StateType>(['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED', 'SCHEDULED', 'PENDING', 'PAUSED'])(
    'should release the run slots on leaving RUNNING for %s',
    async (to) => {
      const slots = fakeSlots();
      const ctx = context(st('RUNNING'), st(to, { at: T0 + 1 }));
      await orchestrate(ctx, [new ReleaseTaskConcurrencySlots(slots)], []);
      expect(slots.release).toHaveBeenCalledWith(TX, ctx.run.id, ['a']);
    },
  );

  it.each<StateType>(['RUNNING', 'CANCELLING'])('should keep the slots through %s', async (to) => {
    const slots = fakeSlots();
    await orchestrate(
      context(st('RUNNING'), st(to, { at: T0 + 1 })),
      [new ReleaseTaskConcurrencySlots(slots)],
      [],
    );
    expect(slots.release).not.toHaveBeenCalled();
  });

  it('should release when a rejection validates another state (FAILED rejected to AwaitingRetry)', async () => {
    const slots = fakeSlots();
    const retry = st('SCHEDULED', { name: 'AwaitingRetry', at: T0 + 2 });
    const result = await orchestrate(
      context(st('RUNNING'), st('FAILED', { at: T0 + 1 })),
      [new Reject(retry), new ReleaseTaskConcurrencySlots(slots)],
      [],
    );
    expect(result.state?.name).toBe('AwaitingRetry');
    expect(slots.release).toHaveBeenCalledTimes(1);
  });

  it('should not release when the transition was nullified by ABORT', async () => {
    const slots = fakeSlots();
    const result = await orchestrate(
      context(st('RUNNING'), st('COMPLETED', { at: T0 + 1 })),
      [new Abort(), new ReleaseTaskConcurrencySlots(slots)],
      [],
    );
    expect(result.status).toBe('ABORT');
    expect(slots.release).not.toHaveBeenCalled();
  });

  it('should not release on a reject to no state (the run keeps its current state)', async () => {
    const slots = fakeSlots();
    await orchestrate(
      context(st('RUNNING'), st('COMPLETED', { at: T0 + 1 })),
      [new Reject(null), new ReleaseTaskConcurrencySlots(slots)],
      [],
    );
    expect(slots.release).not.toHaveBeenCalled();
  });
});
