import type { EntityManager } from 'typeorm';
import { MultiQueue, TaskQueue } from './task-queue';
import { WaiterRegistry } from './task-queue.notifier';
import {
  Delivery,
  QueueItem,
  QueueLimits,
  TaskQueueKind,
  TaskQueueStats,
  TaskQueueStore,
} from './task-queue.store';

/** An in-memory store: per key a retry and a scheduled FIFO; `enqueue` wakes waiters as NOTIFY would. */
class MemoryStore extends TaskQueueStore {
  readonly queues = new Map<string, { retry: QueueItem[]; scheduled: QueueItem[] }>();
  readonly waiters = new WaiterRegistry();
  claims = 0;
  /** Runs inside the next claim, before it looks (simulates a commit racing the claim). */
  duringNextClaim?: () => void;

  push(item: QueueItem, queue: TaskQueueKind = 'scheduled'): void {
    const q = this.queues.get(item.taskKey) ?? { retry: [], scheduled: [] };
    this.queues.set(item.taskKey, q);
    q[queue].push(item);
    this.waiters.wakeOne(item.taskKey);
  }

  enqueue(_m: EntityManager, item: QueueItem, queue: TaskQueueKind): Promise<void> {
    this.push(item, queue);
    return Promise.resolve();
  }

  async claim(keys: readonly string[]): Promise<Delivery | null> {
    this.claims++;
    await Promise.resolve();
    const hook = this.duringNextClaim;
    this.duringNextClaim = undefined;
    const result = this.take(keys);
    hook?.();
    return result;
  }

  private take(keys: readonly string[]): Delivery | null {
    for (const key of keys) {
      const q = this.queues.get(key);
      for (const kind of ['retry', 'scheduled'] as const) {
        const item = q?.[kind].shift();
        if (item) {
          return { ...item, queue: kind, token: 't', attempts: 1, enqueuedAt: '' };
        }
      }
    }
    return null;
  }

  ack(): Promise<boolean> {
    return Promise.resolve(true);
  }
  unclaim(): Promise<boolean> {
    return Promise.resolve(true);
  }
  retry(delivery: Delivery): Promise<boolean> {
    this.push(delivery, 'retry');
    return Promise.resolve(true);
  }
  waitForWork(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(keys, timeoutMs, signal);
  }
  configureTaskKey(): void {}
  limitsFor(): QueueLimits {
    return { scheduled: 1000, retry: 100 };
  }
  stats(): Promise<TaskQueueStats[]> {
    return Promise.resolve([]);
  }
  reset(): Promise<void> {
    this.queues.clear();
    return Promise.resolve();
  }
}

const run = (id: string, taskKey: string): QueueItem => ({ taskRunId: id, taskKey, snapshot: { id } });

describe(MultiQueue.name, () => {
  it('should take keys in subscription order, each retry queue before its scheduled queue', async () => {
    const store = new MemoryStore();
    store.push(run('a1', 'a'));
    store.push(run('b1', 'b'));
    store.push(run('b2', 'b'), 'retry');
    store.push(run('c1', 'c'));
    const sut = new MultiQueue(store, ['b', 'a', 'b']);
    expect(sut.keys).toEqual(['b', 'a']);
    const ids: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await sut.get({ timeoutMs: 20 }))?.taskRunId);
    }
    expect(ids).toEqual(['b2', 'b1', 'a1', undefined]);
  });

  it('should sleep until work arrives instead of polling', async () => {
    const store = new MemoryStore();
    const sut = new MultiQueue(store, ['a']);
    const got = sut.get({ timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    expect(store.claims).toBe(1);
    store.push(run('a1', 'a'));
    expect((await got)?.taskRunId).toBe('a1');
    expect(store.claims).toBe(2);
  });

  it('should not lose a wake-up that arrives while it is claiming', async () => {
    const store = new MemoryStore();
    const sut = new MultiQueue(store, ['a']);
    store.duringNextClaim = () => store.push(run('late', 'a'));
    const started = Date.now();
    expect((await sut.get({ timeoutMs: 5000 }))?.taskRunId).toBe('late');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('should give up on timeout and on abort', async () => {
    const store = new MemoryStore();
    const sut = new MultiQueue(store, ['a']);
    expect(await sut.get({ timeoutMs: 30 })).toBeNull();
    const ac = new AbortController();
    const got = sut.get({ timeoutMs: 5000, signal: ac.signal });
    ac.abort();
    expect(await got).toBeNull();
  });
});

describe(TaskQueue.name, () => {
  it('should serve retried runs first and answer getNowait without waiting', async () => {
    const store = new MemoryStore();
    const sut = new TaskQueue(store, 'k');
    expect(await sut.getNowait()).toBeNull();
    store.push(run('s1', 'k'));
    const first = await sut.get({ timeoutMs: 10 });
    await sut.retry(first!);
    store.push(run('s2', 'k'));
    expect((await sut.getNowait())?.taskRunId).toBe('s1');
    expect((await sut.getNowait())?.taskRunId).toBe('s2');
  });
});
