/** A deferred SCHEDULED run the delivery store may restore to a queue, with its TaskRun JSON snapshot. */
export interface RestorableTaskRun {
  taskRunId: string;
  taskKey: string;
  /** The cursor for the next page (with `taskRunId`). */
  stateTimestamp: string;
  snapshot: Record<string, unknown>;
}

/**
 * What background delivery needs to know about task runs, asked through this port instead of reading the
 * task-runs tables (the task-runs module owns them; `TaskRunsRepository` implements it, bound to this port in
 * src/bindings.module.ts).
 */
export abstract class TaskRunSnapshots {
  /**
   * Deferred SCHEDULED runs without a flow run, oldest state first, strictly after the `(stateTimestamp, id)`
   * cursor (null: from the start), at most `limit`.
   */
  abstract deferredScheduledRuns(
    after: { stateTimestamp: string; id: string } | null,
    limit: number,
    nowMicros: number,
  ): Promise<RestorableTaskRun[]>;

  /** Of these run ids, the ones whose run is still SCHEDULED (the others' ack tombstones can go). */
  abstract stillScheduled(ids: readonly string[]): Promise<Set<string>>;
}
