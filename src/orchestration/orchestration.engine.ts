import { isRetryableDbError } from '../common/errors/db-errors';
import type { TaskOrchestrationContext } from './orchestration-context';
import { OrchestrationRule, PolicyEntry, RuleScope, UniversalTransform } from './orchestration-rule';
import type { OrchestrationResult, OrchestrationState } from './orchestration.types';
import type { StateType } from './states';

class ValidatedStateError extends Error {
  constructor() {
    super('Cannot mutate a transition once a state has been validated.');
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    return `${err.name}(${JSON.stringify(err.message)})`;
  }
  return String(err);
}

/** One rule entered for one orchestration: tracks its own (from, to) pair, validity and fizzling. */
class RuleExecution {
  private invalid = false;
  private fromType: StateType | null;
  private toType: StateType | null;

  constructor(
    private readonly rule: OrchestrationRule,
    private readonly ctx: TaskOrchestrationContext,
    from: StateType | null,
    to: StateType | null,
  ) {
    this.fromType = from;
    this.toType = to;
  }

  private pairChanged(): boolean {
    return this.ctx.initialType !== this.fromType || this.ctx.proposedType !== this.toType;
  }

  async enter(): Promise<void> {
    this.invalid = !this.rule.appliesTo(this.fromType, this.toType) || this.pairChanged();
    if (this.invalid) {
      return;
    }
    try {
      await this.rule.beforeTransition(this.scope(this.ctx.proposedState));
    } catch (err) {
      this.abort(`Aborting orchestration due to error in ${this.rule.name}: !${describeError(err)}`);
      this.ctx.orchestrationError = err;
    }
  }

  async exit(): Promise<void> {
    if (this.invalid) {
      return;
    }
    const scope = this.scope(this.ctx.validatedState);
    if (this.pairChanged()) {
      await this.rule.cleanup(scope);
    } else {
      await this.rule.afterTransition(scope);
    }
  }

  private guard(): void {
    if (this.ctx.validatedState != null) {
      throw new ValidatedStateError();
    }
  }

  private abort(reason: string): void {
    this.ctx.proposedState = null;
    this.toType = null;
    this.ctx.responseStatus = 'ABORT';
    this.ctx.responseDetails = { type: 'abort_details', reason };
  }

  private scope(state: OrchestrationState | null): RuleScope {
    const ctx = this.ctx;
    return {
      ctx,
      initial: ctx.initialState,
      state,
      rejectTransition: (next, reason) => {
        this.guard();
        if (next == null && ctx.initialState == null) {
          throw new Error('Cannot reject a transition to a null state when the run has no state.');
        }
        ctx.proposedState = next;
        this.toType = next?.type ?? null;
        ctx.responseStatus = 'REJECT';
        ctx.responseDetails = { type: 'reject_details', reason };
      },
      delayTransition: (delaySeconds, reason) => {
        this.guard();
        ctx.proposedState = null;
        this.toType = null;
        ctx.responseStatus = 'WAIT';
        ctx.responseDetails = { type: 'wait_details', delay_seconds: delaySeconds, reason };
      },
      abortTransition: (reason) => {
        this.guard();
        this.abort(reason);
      },
      renameState: (name) => {
        this.guard();
        if (ctx.proposedState) {
          ctx.proposedState.name = name;
        }
      },
    };
  }
}

class TransformExecution {
  constructor(
    private readonly transform: UniversalTransform,
    private readonly ctx: TaskOrchestrationContext,
  ) {}

  async enter(): Promise<void> {
    try {
      await this.transform.before(this.ctx);
    } catch (err) {
      this.ctx.proposedState = null;
      this.ctx.responseStatus = 'ABORT';
      this.ctx.responseDetails = {
        type: 'abort_details',
        reason: `Aborting orchestration due to error in ${this.transform.name}: !${describeError(err)}`,
      };
      this.ctx.orchestrationError = err;
    }
  }

  async exit(): Promise<void> {
    if (this.ctx.orchestrationError === undefined) {
      await this.transform.after(this.ctx);
    }
  }
}

/**
 * docs/reference.md §4.1. Enters the policy's entries in order (rules filtered for the transition; universal transforms
 * always), then the global transforms, nested; validates the proposed state; exits in reverse order; and
 * finally raises a recorded orchestration error. Returns the OrchestrationResult.
 */
export async function orchestrate(
  ctx: TaskOrchestrationContext,
  entries: readonly PolicyEntry[],
  globalTransforms: readonly UniversalTransform[],
): Promise<OrchestrationResult> {
  const from = ctx.initialType;
  const to = ctx.proposedType;
  const stack: (RuleExecution | TransformExecution)[] = [];
  for (const entry of entries) {
    const execution =
      entry instanceof OrchestrationRule
        ? new RuleExecution(entry, ctx, from, to)
        : new TransformExecution(entry, ctx);
    await execution.enter();
    stack.push(execution);
  }
  for (const transform of globalTransforms) {
    const execution = new TransformExecution(transform, ctx);
    await execution.enter();
    stack.push(execution);
  }
  await validateProposedState(ctx);
  for (const execution of stack.reverse()) {
    await execution.exit();
  }
  if (ctx.orchestrationError !== undefined) {
    throw ctx.orchestrationError;
  }
  return ctx.result();
}

/** `validate_proposed_state` (docs/reference.md §4.1). */
export async function validateProposedState(ctx: TaskOrchestrationContext): Promise<void> {
  if (ctx.proposedState == null) {
    ctx.validatedState = ctx.initialState;
    return;
  }
  try {
    ctx.validatedState = await ctx.ports.writeState(ctx.run, ctx.proposedState);
  } catch (err) {
    if (isRetryableDbError(err)) {
      throw err;
    }
    ctx.proposedState = null;
    ctx.responseStatus = 'ABORT';
    ctx.responseDetails = { type: 'abort_details', reason: `Error validating state: ${describeError(err)}` };
    ctx.validatedState = ctx.initialState;
  }
}
