/** Prefect's state types (docs/reference.md §0), shared by task runs, flow runs, orchestration and the recorder. */
export const STATE_TYPES = [
  'SCHEDULED',
  'PENDING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'CRASHED',
  'PAUSED',
  'CANCELLING',
] as const;

export type StateType = (typeof STATE_TYPES)[number];

export const TERMINAL_STATE_TYPES: ReadonlySet<StateType> = new Set([
  'COMPLETED',
  'CANCELLED',
  'FAILED',
  'CRASHED',
]);

export function isStateType(value: unknown): value is StateType {
  return typeof value === 'string' && (STATE_TYPES as readonly string[]).includes(value);
}

export function isTerminal(type: StateType | null | undefined): boolean {
  return type != null && TERMINAL_STATE_TYPES.has(type);
}

/** A null state name is derived from the type: `RUNNING` → `Running`, `CANCELLING` → `Cancelling`. */
export function defaultStateName(type: StateType): string {
  return type
    .split('_')
    .map((w) => w.charAt(0) + w.slice(1).toLowerCase())
    .join(' ');
}
