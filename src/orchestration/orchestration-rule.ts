import type { TaskOrchestrationContext } from './orchestration-context';
import type { OrchestrationState } from './orchestration.types';
import { STATE_TYPES, type StateType } from './states';

/** A set of state types a rule applies to; `null` stands for "no state". */
export type StateTypeSet = ReadonlySet<StateType | null>;

/** Every type plus null (Prefect's ALL_ORCHESTRATION_STATES). */
export const ALL_STATES: StateTypeSet = new Set<StateType | null>([...STATE_TYPES, null]);
export const TERMINAL_STATES: StateTypeSet = new Set<StateType | null>([
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'CRASHED',
]);

export function states(...types: (StateType | null)[]): StateTypeSet {
  return new Set(types);
}

/**
 * What a rule's hooks see: the context plus the mutators of docs/reference.md §4.1. Each mutator raises once a state has
 * been validated, and moves the rule's own pair along so the rule does not fizzle itself.
 */
export interface RuleScope {
  readonly ctx: TaskOrchestrationContext;
  readonly initial: OrchestrationState | null;
  /** Before: the live proposed state. After/cleanup: the validated state. */
  readonly state: OrchestrationState | null;
  rejectTransition(state: OrchestrationState | null, reason: string): void;
  delayTransition(delaySeconds: number, reason: string): void;
  abortTransition(reason: string): void;
  renameState(name: string): void;
}

/**
 * An orchestration rule (docs/reference.md §4.1): small, pure, one per file. It applies to transitions whose initial type
 * is in `fromStates` and proposed type in `toStates`. Hooks may be sync or async.
 */
export abstract class OrchestrationRule {
  abstract readonly fromStates: StateTypeSet;
  abstract readonly toStates: StateTypeSet;

  get name(): string {
    return this.constructor.name;
  }

  beforeTransition(_scope: RuleScope): void | Promise<void> {}
  afterTransition(_scope: RuleScope): void | Promise<void> {}
  cleanup(_scope: RuleScope): void | Promise<void> {}

  appliesTo(from: StateType | null, to: StateType | null): boolean {
    return this.fromStates.has(from) && this.toStates.has(to);
  }
}

/**
 * A universal transform (docs/reference.md §4.1): applies to every transition. `before` always runs (it checks for a
 * nullified transition itself); `after` runs unless an orchestration error was recorded.
 */
export abstract class UniversalTransform {
  get name(): string {
    return this.constructor.name;
  }

  before(_ctx: TaskOrchestrationContext): void | Promise<void> {}
  after(_ctx: TaskOrchestrationContext): void | Promise<void> {}
}

/** One entry of a policy's ordered list: a rule, or a universal transform placed among the rules. */
export type PolicyEntry = OrchestrationRule | UniversalTransform;

/** A state the run's flow stays in; a nullified transition has no proposed state. */
export function isNullified(ctx: TaskOrchestrationContext): boolean {
  return ctx.proposedState == null;
}
