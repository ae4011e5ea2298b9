import type { EntityManager } from 'typeorm';

export type TaskQueueKind = 'scheduled' | 'retry';

/** Why a delivery went back to its key's retry queue. */
export type ReturnReason = 'closed' | 'send_error' | 'protocol_violation' | 'lease_expired' | 'shutdown';

export interface QueueItem {
  taskRunId: string;
  taskKey: string;
  snapshot: Record<string, unknown>;
}

/** A run claimed from a queue and leased to this replica until it is acked or returned. */
export interface Delivery extends QueueItem {
  /** Which queue it was taken from. */
  queue: TaskQueueKind;
  /** Identifies this delivery: an ack or return with a stale token (run re-enqueued meanwhile) is a no-op. */
  token: string;
  /** 1 on the first delivery, more on redeliveries. */
  attempts: number;
  /** When the run was (last) enqueued, as a canonical µs timestamp. */
  enqueuedAt: string;
}

export interface QueueLimits {
  scheduled: number;
  retry: number;
}

export interface TaskQueueStats {
  taskKey: string;
  scheduled: number;
  retry: number;
  inFlight: number;
  /** Age in seconds of the oldest queued (not in-flight) run; null when nothing is queued. */
  oldestAgeSeconds: number | null;
}

/**
 * The background-task queue port (ARCHITECTURE.md). `TaskRunsService` calls `enqueue` inside the
 * orchestration transaction that made a run deferred-SCHEDULED (EnqueueScheduledTasks), with a snapshot of
 * the TaskRun JSON (including its new state), so the run is queued exactly when its state says so. The
 * websocket only speaks to this port (claim / ack / retry / waitForWork), so the backend can be swapped.
 */
export abstract class TaskQueueStore {
  /**
   * Queues (or re-queues) a run inside the caller's transaction; visible to claimers once it commits.
   * Never blocks: a key whose queue is at its bound refuses with `TooManyRequestsError` (429), which rolls
   * the caller's transaction back, so the run does not become deferred-SCHEDULED without being queued.
   *
   * Pipelining contract: every statement is sent on `manager`'s connection before the returned promise is
   * created (no `await` ahead of it), and a refusal fails a statement rather than being decided afterwards in
   * JavaScript. The caller may then send its COMMIT right behind the enqueue, in the same round trip; a refused
   * enqueue turns that COMMIT into a ROLLBACK (docs/performance.md, "Seventh round").
   */
  abstract enqueue(manager: EntityManager, item: QueueItem, queue: TaskQueueKind): Promise<void>;

  /** Takes the next run for `keys` (subscription order; per key the retry queue first) and leases it. */
  abstract claim(keys: readonly string[]): Promise<Delivery | null>;

  /** Completes a delivery. False when the delivery was no longer current (re-enqueued or expired). */
  abstract ack(delivery: Delivery): Promise<boolean>;

  /**
   * Gives back a run that was claimed (prefetched) but never sent: it returns to its original place in its
   * queue and does not count as a delivery attempt.
   */
  abstract unclaim(delivery: Delivery): Promise<boolean>;

  /** Puts a delivery back on its key's retry queue (never refused by the bound: it was already counted). */
  abstract retry(delivery: Delivery, reason: ReturnReason): Promise<boolean>;

  /**
   * Resolves when work may be available for one of `keys` (a notification from any replica), after
   * `timeoutMs`, or when `signal` aborts, whichever comes first. Never a busy poll.
   */
  abstract waitForWork(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void>;

  /** Overrides the queue bounds of one key (seed `configure_task_key`); missing sizes use the settings. */
  abstract configureTaskKey(taskKey: string, sizes?: { scheduled?: number; retry?: number }): void;

  abstract limitsFor(taskKey: string): QueueLimits;

  /** Per key depths for `/admin/task_queues` and metrics. */
  abstract stats(): Promise<TaskQueueStats[]>;

  /** Test utility (seed `reset`): empties every queue and forgets key configuration. */
  abstract reset(): Promise<void>;
}
