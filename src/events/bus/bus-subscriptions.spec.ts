import { Logger } from '@nestjs/common';
import { armTrimTimer, trackSubscription } from './bus-subscriptions';

describe(trackSubscription.name, () => {
  it('should add and start the consumer, and on close remove it, close it, then run afterClose', async () => {
    const steps: string[] = [];
    const set = new Set<{ start(): void; close(): Promise<void> }>();
    const sub = {
      start: () => void steps.push('start'),
      close: () => Promise.resolve(void steps.push(`close (in set: ${set.has(sub)})`)),
    };
    const handle = trackSubscription(set, sub, () => Promise.resolve(steps.push('afterClose')));
    expect([...set]).toEqual([sub]);
    await handle.close();
    expect(set.size).toBe(0);
    expect(steps).toEqual(['start', 'close (in set: false)', 'afterClose']);
  });
});

describe(armTrimTimer.name, () => {
  const logger = new Logger('test');
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  it('should arm nothing when trimming is off', () => {
    expect(armTrimTimer(0, () => Promise.resolve(), logger)).toBeUndefined();
  });

  it('should keep trimming after a failed trim', async () => {
    let calls = 0;
    const timer = armTrimTimer(
      5,
      () => {
        calls += 1;
        return calls === 1 ? Promise.reject(new Error('down')) : Promise.resolve();
      },
      logger,
    );
    try {
      // Up to 2 s for three calls: a timer stopped by the failure would leave it at one.
      for (let waited = 0; calls < 3 && waited < 2000; waited += 10) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(calls).toBeGreaterThanOrEqual(3);
    } finally {
      clearInterval(timer);
    }
  });
});
