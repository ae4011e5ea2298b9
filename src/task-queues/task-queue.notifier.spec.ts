import { notifyPayload, WaiterRegistry, WAKE_ALL } from './task-queue.notifier';

describe(WaiterRegistry.name, () => {
  it('should wake one waiter per notification, the longest waiting on that key', async () => {
    const sut = new WaiterRegistry();
    const woken: string[] = [];
    const a = sut.wait(['k'], 10_000).then(() => woken.push('a'));
    const b = sut.wait(['other', 'k'], 10_000).then(() => woken.push('b'));
    const c = sut.wait(['other'], 10_000).then(() => woken.push('c'));
    sut.wakeOne('k');
    await a;
    expect(woken).toEqual(['a']);
    sut.wakeOne('k');
    await b;
    expect(woken).toEqual(['a', 'b']);
    expect(sut.size).toBe(1);
    sut.wakeOne(WAKE_ALL);
    await c;
    expect(sut.size).toBe(0);
  });

  it('should resolve on timeout and on abort, and forget the waiter', async () => {
    const sut = new WaiterRegistry();
    const started = Date.now();
    await sut.wait(['k'], 20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    const ac = new AbortController();
    const p = sut.wait(['k'], 10_000, ac.signal);
    expect(sut.size).toBe(1);
    ac.abort();
    await p;
    expect(sut.size).toBe(0);
  });

  it('should use the wake-all payload for keys too long for NOTIFY', () => {
    expect(notifyPayload('short')).toBe('short');
    expect(notifyPayload('x'.repeat(7001))).toBe(WAKE_ALL);
  });
});
