import { TaskOrchestrationContext } from './orchestration-context';
import { ALL_STATES, OrchestrationRule, RuleScope, states, UniversalTransform } from './orchestration-rule';
import { orchestrate } from './orchestration.engine';
import { fakeContext, FakePorts, st } from './orchestration.testing';

class Recorder extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = ALL_STATES;
  constructor(
    readonly log: string[],
    readonly tag: string,
    readonly onBefore?: (s: RuleScope) => void,
  ) {
    super();
  }
  override beforeTransition(s: RuleScope): void {
    this.log.push(`${this.tag}:before`);
    this.onBefore?.(s);
  }
  override afterTransition(_s: RuleScope): void {
    this.log.push(`${this.tag}:after`);
  }
  override cleanup(): void {
    this.log.push(`${this.tag}:cleanup`);
  }
}

class OnlyRunning extends Recorder {
  override readonly toStates = states('RUNNING');
}

class LogTransform extends UniversalTransform {
  constructor(readonly log: string[]) {
    super();
  }
  override before(ctx: TaskOrchestrationContext): void {
    this.log.push(`T:before:${ctx.proposedState ? 'live' : 'null'}`);
  }
  override after(): void {
    this.log.push('T:after');
  }
}

describe('orchestrate', () => {
  it('should enter rules in order, then transforms, validate, and exit in reverse order', async () => {
    const log: string[] = [];
    const ctx = fakeContext({ proposed: st('PENDING') });
    const result = await orchestrate(
      ctx,
      [new Recorder(log, 'A'), new Recorder(log, 'B')],
      [new LogTransform(log)],
    );
    expect(log).toEqual(['A:before', 'B:before', 'T:before:live', 'T:after', 'B:after', 'A:after']);
    expect(result.status).toBe('ACCEPT');
    expect(result.details).toEqual({ type: 'accept_details' });
    expect(result.state?.type).toBe('PENDING');
    expect(ctx.run.stateId).toBe(result.state?.id);
  });

  it('should skip rules whose FROM/TO do not contain the transition (invalid)', async () => {
    const log: string[] = [];
    await orchestrate(fakeContext({ proposed: st('PENDING') }), [new OnlyRunning(log, 'R')], []);
    expect(log).toEqual([]);
  });

  it('should make outer rules fizzle and later rules invalid after a null reject/abort', async () => {
    const log: string[] = [];
    const ctx = fakeContext({ proposed: st('RUNNING') });
    const result = await orchestrate(
      ctx,
      [
        new Recorder(log, 'A'),
        new Recorder(log, 'B', (s) => s.abortTransition('no')),
        new Recorder(log, 'C'),
      ],
      [new LogTransform(log)],
    );
    expect(log).toEqual(['A:before', 'B:before', 'T:before:null', 'T:after', 'B:after', 'A:cleanup']);
    expect(result).toEqual({
      state: null,
      status: 'ABORT',
      details: { type: 'abort_details', reason: 'no' },
    });
  });

  it('should return the current state on a null reject, and error without one', async () => {
    const initial = st('COMPLETED');
    const ctx = fakeContext({ initial, proposed: st('RUNNING', { at: 2 }) });
    const r = await orchestrate(ctx, [new Recorder([], 'A', (s) => s.rejectTransition(null, 'done'))], []);
    expect(r.status).toBe('REJECT');
    expect(r.state).toBe(initial);
    expect(r.details).toEqual({ type: 'reject_details', reason: 'done' });

    const ctx2 = fakeContext({ proposed: st('RUNNING') });
    await expect(
      orchestrate(ctx2, [new Recorder([], 'A', (s) => s.rejectTransition(null, 'x'))], []),
    ).rejects.toThrow();
    expect(ctx2.responseStatus).toBe('ABORT');
  });

  it('should keep a rule that rejects to another type from fizzling itself', async () => {
    const log: string[] = [];
    const ctx = fakeContext({ proposed: st('RUNNING') });
    const r = await orchestrate(
      ctx,
      [
        new Recorder(log, 'A'),
        new Recorder(log, 'B', (s) => s.rejectTransition(st('COMPLETED', { at: 5 }), 'c')),
      ],
      [],
    );
    expect(log).toEqual(['A:before', 'B:before', 'B:after', 'A:cleanup']);
    expect(r.state?.type).toBe('COMPLETED');
    expect(r.status).toBe('REJECT');
  });

  it('should answer WAIT with delay details', async () => {
    const ctx = fakeContext({ proposed: st('RUNNING') });
    const r = await orchestrate(ctx, [new Recorder([], 'A', (s) => s.delayTransition(5, 'later'))], []);
    expect(r).toEqual({
      state: null,
      status: 'WAIT',
      details: { type: 'wait_details', delay_seconds: 5, reason: 'later' },
    });
  });

  it('should rename the proposed state without changing its type', async () => {
    const ctx = fakeContext({ proposed: st('RUNNING') });
    const r = await orchestrate(ctx, [new Recorder([], 'A', (s) => s.renameState('Retrying'))], []);
    expect(r.state).toMatchObject({ type: 'RUNNING', name: 'Retrying' });
    expect(r.status).toBe('ACCEPT');
  });

  it('should abort with the error text and re-raise when a rule fails before the transition', async () => {
    const log: string[] = [];
    const ctx = fakeContext({ proposed: st('RUNNING') });
    const boom = new Error('boom');
    await expect(
      orchestrate(
        ctx,
        [
          new Recorder([], 'A', () => {
            throw boom;
          }),
        ],
        [new LogTransform(log)],
      ),
    ).rejects.toBe(boom);
    expect(ctx.responseStatus).toBe('ABORT');
    expect(ctx.responseDetails).toEqual({
      type: 'abort_details',
      reason: 'Aborting orchestration due to error in Recorder: !Error("boom")',
    });
    expect(log).toEqual(['T:before:null']);
  });

  it('should refuse mutations once a state is validated', async () => {
    let captured: RuleScope | undefined;
    class Late extends Recorder {
      override afterTransition(s: RuleScope): void {
        captured = s;
      }
    }
    await orchestrate(fakeContext({ proposed: st('RUNNING') }), [new Late([], 'L')], []);
    expect(() => captured?.abortTransition('late')).toThrow(/validated/);
  });

  it('should abort when writing the state fails', async () => {
    const ports = new FakePorts();
    ports.failWrite = new Error('unique');
    const initial = st('PENDING');
    const ctx = fakeContext({ initial, proposed: st('RUNNING', { at: 9 }), ports });
    const r = await orchestrate(ctx, [], []);
    expect(r.status).toBe('ABORT');
    expect(r.state).toBe(initial);
    expect(r.details).toEqual({ type: 'abort_details', reason: 'Error validating state: Error("unique")' });
  });
});
