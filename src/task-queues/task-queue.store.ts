import type { EntityManager } from 'typeorm';

export type TaskQueueKind = 'scheduled' | 'retry';

/**
 * The background-task queue port (ARCHITECTURE.md). `TaskRunsService` calls `enqueue` inside the
 * orchestration transaction that made a run deferred-SCHEDULED (EnqueueScheduledTasks), with a snapshot of
 * the TaskRun JSON (including its new state), so the run is queued exactly when its state says so. The
 * PostgreSQL implementation lives in this folder's module (background-delivery issue).
 */
export abstract class TaskQueueStore {
  abstract enqueue(
    manager: EntityManager,
    item: { taskRunId: string; taskKey: string; snapshot: Record<string, unknown> },
    queue: TaskQueueKind,
  ): Promise<void>;
}
