import type { EntityManager } from 'typeorm';
import { TaskOrchestrationContext } from '../../orchestration/orchestration-context';
import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../../orchestration/orchestration-rule';
import { orchestrate } from '../../orchestration/orchestration.engine';
import { FakePorts, fakeRun, st, T0 } from '../../orchestration/orchestration.testing';
import type { OrchestrationState } from '../../orchestration/orchestration.types';
import type { SlotDecision } from '../concurrency-slots.service';
import { SecureTaskConcurrencySlots } from './secure-task-concurrency-slots.rule';
import type { TaskConcurrencySlots } from './task-concurrency-slots.port';

const TX = { tx: true } as unknown as EntityManager;
const ACQUIRED = { v2LimitIds: ['l1'], v1Tags: ['b'] };

function fakeSlots(decision: SlotDecision) {
  return {
    secure: jest.fn<Promise<SlotDecision>, Parameters<TaskConcurrencySlots['secure']>>(() =>
      Promise.resolve(decision),
    ),
    undo: jest.fn<Promise<void>, Parameters<TaskConcurrencySlots['undo']>>(() => Promise.resolve()),
    release: jest.fn<Promise<void>, Parameters<TaskConcurrencySlots['release']>>(() => Promise.resolve()),
  };
}

function context(
  initial: OrchestrationState | null,
  proposed: OrchestrationState,
  transaction: EntityManager | null = TX,
) {
  return new TaskOrchestrationContext({
    run: fakeRun({ tags: ['a', 'b'], stateType: initial?.type ?? null }),
    initialState: initial,
    proposedState: proposed,
    ports: new FakePorts(),
    nowMicros: T0 + 1_000_000,
    transaction: transaction ?? undefined,
  });
}

/** A later rule that makes the client wait: every earlier rule fizzles. */
class LaterWait extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('RUNNING');
  override beforeTransition(scope: RuleScope): void {
    scope.delayTransition(31, 'Scheduled time is in the future');
  }
}

describe(SecureTaskConcurrencySlots.name, () => {
  it('should accept and secure the slots of the run tags in the orchestration transaction', async () => {
    const slots = fakeSlots({ status: 'ACCEPT', acquired: ACQUIRED });
    const ctx = context(st('PENDING'), st('RUNNING', { at: T0 + 1 }));
    const result = await orchestrate(ctx, [new SecureTaskConcurrencySlots(slots)], []);
    expect(result.status).toBe('ACCEPT');
    expect(result.state?.type).toBe('RUNNING');
    expect(slots.secure).toHaveBeenCalledWith(TX, ctx.run.id, ['a', 'b']);
    expect(slots.undo).not.toHaveBeenCalled();
  });

  it('should abort with the slot service reason on a zero limit', async () => {
    const reason = 'The concurrency limit on tag "a" is 0 and will deadlock if the task tries to run again.';
    const slots = fakeSlots({ status: 'ABORT', reason });
    const initial = st('PENDING');
    const result = await orchestrate(
      context(initial, st('RUNNING', { at: T0 + 1 })),
      [new SecureTaskConcurrencySlots(slots)],
      [],
    );
    expect(result).toEqual({ state: initial, status: 'ABORT', details: { type: 'abort_details', reason } });
    expect(slots.undo).not.toHaveBeenCalled();
  });

  it('should wait with the delay and reason of a full limit', async () => {
    const slots = fakeSlots({
      status: 'WAIT',
      delaySeconds: 9,
      reason: 'Concurrency limit reached for tags: a, b',
    });
    const initial = st('PENDING');
    const result = await orchestrate(
      context(initial, st('RUNNING', { at: T0 + 1 })),
      [new SecureTaskConcurrencySlots(slots)],
      [],
    );
    expect(result).toEqual({
      state: initial,
      status: 'WAIT',
      details: { type: 'wait_details', delay_seconds: 9, reason: 'Concurrency limit reached for tags: a, b' },
    });
  });

  it('should give back exactly what it took when a later rule nullifies the transition (fizzle)', async () => {
    const slots = fakeSlots({ status: 'ACCEPT', acquired: ACQUIRED });
    const ctx = context(st('SCHEDULED'), st('RUNNING', { at: T0 + 1 }));
    const result = await orchestrate(ctx, [new SecureTaskConcurrencySlots(slots), new LaterWait()], []);
    expect(result.status).toBe('WAIT');
    expect(slots.undo).toHaveBeenCalledWith(TX, ctx.run.id, ACQUIRED);
  });

  it('should not apply to transitions into other states', async () => {
    const slots = fakeSlots({ status: 'ABORT', reason: 'x' });
    const result = await orchestrate(
      context(st('RUNNING'), st('COMPLETED', { at: T0 + 1 })),
      [new SecureTaskConcurrencySlots(slots)],
      [],
    );
    expect(result.status).toBe('ACCEPT');
    expect(slots.secure).not.toHaveBeenCalled();
  });

  it('should apply to a restarted RUNNING (RUNNING → RUNNING) and from no state', async () => {
    const slots = fakeSlots({ status: 'ACCEPT', acquired: { v2LimitIds: [], v1Tags: [] } });
    await orchestrate(
      context(st('RUNNING'), st('RUNNING', { at: T0 + 1 })),
      [new SecureTaskConcurrencySlots(slots)],
      [],
    );
    await orchestrate(
      context(null, st('RUNNING', { at: T0 + 1 })),
      [new SecureTaskConcurrencySlots(slots)],
      [],
    );
    expect(slots.secure).toHaveBeenCalledTimes(2);
  });

  it('should abort, naming itself, when the context carries no transaction', async () => {
    const slots = fakeSlots({ status: 'ACCEPT', acquired: ACQUIRED });
    const ctx = context(st('PENDING'), st('RUNNING', { at: T0 + 1 }), null);
    await expect(orchestrate(ctx, [new SecureTaskConcurrencySlots(slots)], [])).rejects.toThrow(
      'orchestration transaction',
    );
    expect(ctx.responseStatus).toBe('ABORT');
    expect(ctx.responseDetails).toMatchObject({
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- @types/jest types asymmetric matchers as any
      reason: expect.stringContaining('SecureTaskConcurrencySlots'),
    });
  });
});
