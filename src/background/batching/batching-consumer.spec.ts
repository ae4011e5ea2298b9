import { Logger } from '@nestjs/common';
import { BatchingConsumer, BatchingConsumerOptions } from './batching-consumer';

const outage = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
const dataError = () => Object.assign(new Error('invalid input'), { code: '22P02' });
const tick = () => new Promise((r) => setImmediate(r));

describe(BatchingConsumer.name, () => {
  let writes: number[][];
  let failWhen: (items: number[]) => Error | undefined;
  let letters: { items: { item: number; attempts: number }[]; reason: string }[];
  let problems: (string | undefined)[];
  let inFlight: number;
  let maxInFlight: number;
  /** When set, writes wait for it (a slow database). */
  let gate: Promise<void> | undefined;

  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  beforeEach(() => {
    writes = [];
    failWhen = () => undefined;
    letters = [];
    problems = [];
    inFlight = 0;
    maxInFlight = 0;
    gate = undefined;
  });

  const make = (options: Partial<BatchingConsumerOptions> = {}, permanent?: (err: unknown) => boolean) =>
    new BatchingConsumer<number>(
      { name: 'test', batchSize: 4, flushIntervalMs: 1000, maxAttempts: 3, ...options },
      {
        write: async (items) => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await tick();
          await gate;
          inFlight -= 1;
          const err = failWhen(items);
          if (err) {
            throw err;
          }
          writes.push(items);
        },
        deadLetter: (items, reason) => Promise.resolve(void letters.push({ items, reason })),
        isPermanent: permanent,
        onProblem: (p) => problems.push(p),
      },
    );

  it('should settle each item only after the write holding it, merging items into batches', async () => {
    const sut = make();
    const settled: number[] = [];
    const all = [1, 2, 3, 4, 5].map((i) => sut.handle(i).then(() => settled.push(i)));
    expect(writes).toEqual([]); // the write of 1–4 started, not finished
    await Promise.resolve();
    expect(settled).toEqual([]);
    await Promise.all(all.slice(0, 4));
    expect(writes).toEqual([[1, 2, 3, 4]]);
    expect(sut.depth).toBe(1);
    await sut.flush();
    await Promise.all(all);
    expect(writes).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('should write at most maxWrite items per write and concurrentFlushes writes at once', async () => {
    const sut = make({ batchSize: 100, maxWrite: 3, concurrentFlushes: 2 });
    const all = Array.from({ length: 10 }, (_, i) => sut.handle(i));
    await sut.flush();
    await Promise.all(all);
    expect(writes.map((w) => w.length).sort()).toEqual([1, 3, 3, 3]);
    expect(maxInFlight).toBe(2);
  });

  it('should bisect a failing batch so that only the poison item is retried, then dead-letter it', async () => {
    const sut = make({ batchSize: 100 });
    failWhen = (items) => (items.includes(6) ? dataError() : undefined);
    const all = Array.from({ length: 8 }, (_, i) => sut.handle(i));
    await sut.flush();
    expect(writes.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 7]);
    expect(sut.depth).toBe(1);
    await sut.flush();
    expect(letters).toEqual([]);
    await sut.flush();
    await Promise.all(all);
    expect(letters).toEqual([{ items: [{ item: 6, attempts: 3 }], reason: 'Error: invalid input' }]);
    expect(problems.filter(Boolean)).toEqual([]);
  });

  it('should dead-letter at once an error marked permanent', async () => {
    const sut = make({ batchSize: 100 }, () => true);
    failWhen = () => dataError();
    const one = sut.handle(1);
    await sut.flush();
    await one;
    expect(letters).toEqual([{ items: [{ item: 1, attempts: 1 }], reason: 'Error: invalid input' }]);
  });

  it('should keep the whole batch, in order and uncounted, through a database outage, pausing size triggers', async () => {
    const sut = make({ batchSize: 2 });
    let down = true;
    failWhen = () => (down ? outage() : undefined);
    const all = [1, 2].map((i) => sut.handle(i));
    await tick();
    await tick();
    expect(sut.depth).toBe(2);
    expect(problems.at(-1)).toContain('database unavailable, 2 events buffered');
    const more = [3, 4].map((i) => sut.handle(i)); // size trigger paused: nothing written
    await tick();
    expect(sut.depth).toBe(4);
    for (let i = 0; i < 5; i++) {
      await sut.flush();
    } // more outages than maxAttempts
    expect(letters).toEqual([]);
    down = false;
    await sut.flush();
    await Promise.all([...all, ...more]);
    expect(writes.flat()).toEqual([1, 2, 3, 4]);
    expect(problems.at(-1)).toBeUndefined();
  });

  describe('with flushWhenIdle', () => {
    // The periodic timer is never started here: only the idle and size triggers can write.
    it('should write a burst at once when no write is in flight, without waiting for batchSize or the interval', async () => {
      const sut = make({ batchSize: 100, flushWhenIdle: true });
      await Promise.all([1, 2, 3].map((i) => sut.handle(i)));
      expect(writes).toEqual([[1, 2, 3]]);
    });

    it('should gather what arrives during a write into the next one (one idle write at a time)', async () => {
      const sut = make({ batchSize: 100, flushWhenIdle: true, concurrentFlushes: 2 });
      const first = sut.handle(1);
      await tick(); // the write of [1] is in flight
      const rest = [2, 3].map((i) => sut.handle(i));
      await Promise.all([first, ...rest]);
      expect(writes).toEqual([[1], [2, 3]]);
      expect(maxInFlight).toBe(1);
    });

    it('should still start a full batch beside a write in flight, taking up to maxWrite', async () => {
      const sut = make({ batchSize: 2, maxWrite: 5, flushWhenIdle: true, concurrentFlushes: 2 });
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      const first = sut.handle(0);
      await tick(); // the write of [0] is in flight, held
      const rest = [1, 2, 3, 4, 5, 6].map((i) => sut.handle(i));
      await tick();
      await tick();
      open();
      await Promise.all([first, ...rest]);
      expect(writes).toEqual([[0], [1, 2, 3, 4, 5], [6]]);
      expect(maxInFlight).toBe(2);
    });

    it('should not retry on its own after an outage: the periodic flush does', async () => {
      const sut = make({ batchSize: 100, flushWhenIdle: true });
      let down = true;
      failWhen = () => (down ? outage() : undefined);
      const one = sut.handle(1);
      for (let i = 0; i < 5; i++) {
        await tick();
      }
      const two = sut.handle(2);
      for (let i = 0; i < 5; i++) {
        await tick();
      }
      expect(sut.depth).toBe(2);
      expect(writes).toEqual([]);
      down = false;
      await sut.flush();
      await Promise.all([one, two]);
      expect(writes).toEqual([[1, 2]]);
    });
  });

  it('should reject (hand back to the bus) what is left when closing during an outage', async () => {
    const sut = make({ batchSize: 100 });
    failWhen = () => outage();
    const one = sut.handle(1).then(
      () => 'stored',
      () => 'rejected',
    );
    await sut.close();
    expect(await one).toBe('rejected');
    await expect(sut.handle(2)).rejects.toThrow('test is stopping');
  });

  it('should reject the items whose dead-lettering failed, so the bus redelivers them', async () => {
    const sut = new BatchingConsumer<number>(
      { name: 'test', batchSize: 100, flushIntervalMs: 1000, maxAttempts: 1 },
      {
        write: () => Promise.reject(dataError()),
        deadLetter: () => Promise.reject(outage()),
      },
    );
    const one = sut.handle(1);
    await sut.flush();
    await expect(one).rejects.toThrow('connection refused');
  });
});
