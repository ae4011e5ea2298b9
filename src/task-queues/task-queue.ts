import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Delivery, QueueItem, ReturnReason, TaskQueueKind, TaskQueueStore } from './task-queue.store';

export interface GetOptions {
  /** Give up (resolve null) after this long. */
  timeoutMs: number;
  /** Give up when this aborts (e.g. the socket closed). */
  signal?: AbortSignal;
}

/**
 * Waits for the next run from any of `keys`: claim, and when nothing is there sleep until a notification
 * (or the timeout). The waiter is registered before the claim, so a run committed in between wakes it:
 * no busy poll and no lost wake-up.
 */
async function nextFrom(
  store: TaskQueueStore,
  keys: readonly string[],
  opts: GetOptions,
): Promise<Delivery | null> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (opts.signal?.aborted) {
      return null;
    }
    const attempt = new AbortController();
    const stop = (): void => attempt.abort();
    opts.signal?.addEventListener('abort', stop, { once: true });
    try {
      const woken = store.waitForWork(keys, Math.max(0, deadline - Date.now()), attempt.signal);
      const delivery = await store.claim(keys);
      if (delivery) {
        return delivery;
      }
      await woken;
    } finally {
      attempt.abort();
      opts.signal?.removeEventListener('abort', stop);
    }
    if (Date.now() >= deadline) {
      return null;
    }
  }
}

/** One task key's pair of queues (seed `TaskQueue`): scheduled and retry, retry served first. */
export class TaskQueue {
  constructor(
    private readonly store: TaskQueueStore,
    readonly taskKey: string,
  ) {}

  /** Waits for the next run of this key (retry queue first); null on timeout or abort. */
  get(opts: GetOptions): Promise<Delivery | null> {
    return nextFrom(this.store, [this.taskKey], opts);
  }

  /** The next run if one is queued right now, else null (the seed raises `QueueEmpty`). */
  getNowait(): Promise<Delivery | null> {
    return this.store.claim([this.taskKey]);
  }

  /** Queues a run on this key's scheduled queue inside `manager`'s transaction. */
  put(manager: EntityManager, item: Omit<QueueItem, 'taskKey'>): Promise<void> {
    return this.store.enqueue(manager, { ...item, taskKey: this.taskKey }, 'scheduled');
  }

  /** Puts a delivery back on this key's retry queue. */
  retry(delivery: Delivery, reason: ReturnReason = 'closed'): Promise<boolean> {
    return this.store.retry(delivery, reason);
  }
}

/** Takes the next run from any of several keys, in subscription order (seed `MultiQueue`), without polling. */
export class MultiQueue {
  readonly keys: readonly string[];

  constructor(
    private readonly store: TaskQueueStore,
    keys: readonly string[],
  ) {
    this.keys = [...new Set(keys)];
  }

  get(opts: GetOptions): Promise<Delivery | null> {
    return nextFrom(this.store, this.keys, opts);
  }
}

/** The seed's class-level API (`TaskQueue.enqueue`, `for_key`, `configure_task_key`, `reset`) as a service. */
@Injectable()
export class TaskQueues {
  constructor(private readonly store: TaskQueueStore) {}

  forKey(taskKey: string): TaskQueue {
    return new TaskQueue(this.store, taskKey);
  }

  multi(taskKeys: readonly string[]): MultiQueue {
    return new MultiQueue(this.store, taskKeys);
  }

  enqueue(manager: EntityManager, item: QueueItem, queue: TaskQueueKind = 'scheduled'): Promise<void> {
    return this.store.enqueue(manager, item, queue);
  }

  configureTaskKey(taskKey: string, scheduledSize?: number, retrySize?: number): void {
    this.store.configureTaskKey(taskKey, { scheduled: scheduledSize, retry: retrySize });
  }

  reset(): Promise<void> {
    return this.store.reset();
  }
}
