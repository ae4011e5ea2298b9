import { TooManyRequestsError } from '../common/errors/domain.error';
import { GroupCommit, Outcome } from './group-commit';

describe('GroupCommit', () => {
  const deferred = () => {
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    return { done, release };
  };

  it('should send the first item alone and gather the ones that arrive while every slot is busy', async () => {
    const groups: number[][] = [];
    const gate = deferred();
    const sut = new GroupCommit<number, number>({
      name: 'items',
      maxBatch: 10,
      maxInFlight: 1,
      maxQueued: 100,
      run: async (items) => {
        groups.push(items);
        if (groups.length === 1) {
          await gate.done;
        }
        return items.map((v) => ({ ok: true, value: v * 2 }));
      },
    });
    const first = sut.submit(0);
    await new Promise((r) => setImmediate(r));
    const rest = Array.from({ length: 25 }, (_, i) => sut.submit(i + 1));
    gate.release();
    expect(await Promise.all([first, ...rest])).toEqual(Array.from({ length: 26 }, (_, i) => i * 2));
    expect(groups.map((g) => g.length)).toEqual([1, 10, 10, 5]);
  });

  it('should answer each item with its own outcome', async () => {
    const sut = new GroupCommit<number, number>({
      name: 'items',
      maxBatch: 10,
      maxInFlight: 1,
      maxQueued: 100,
      run: (items): Promise<Outcome<number>[]> =>
        Promise.resolve(
          items.map((v) => (v === 3 ? { ok: false, error: new Error('bad 3') } : { ok: true, value: v })),
        ),
    });
    const answers = await Promise.allSettled([1, 2, 3, 4].map((v) => sut.submit(v)));
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  });

  it('should never put two items with the same key in one group', async () => {
    const groups: string[][] = [];
    const sut = new GroupCommit<string, string>({
      name: 'items',
      maxBatch: 10,
      maxInFlight: 1,
      maxQueued: 100,
      key: (s) => s,
      run: (items) => {
        groups.push(items);
        return Promise.resolve(items.map((v) => ({ ok: true as const, value: v })));
      },
    });
    await Promise.all(['a', 'b', 'a', 'c', 'a', 'b'].map((v) => sut.submit(v)));
    for (const g of groups) {
      expect(new Set(g).size).toBe(g.length);
    }
    expect(groups.flat().sort()).toEqual(['a', 'a', 'a', 'b', 'b', 'c']);
  });

  it('should refuse with 429 past maxQueued and still answer every accepted item', async () => {
    const gate = deferred();
    const sut = new GroupCommit<number, number>({
      name: 'items',
      maxBatch: 2,
      maxInFlight: 1,
      maxQueued: 3,
      run: async (items) => {
        await gate.done;
        return items.map((v) => ({ ok: true, value: v }));
      },
    });
    const first = sut.submit(0);
    await new Promise((r) => setImmediate(r)); // the first group is in flight
    const queued = [1, 2, 3].map((v) => sut.submit(v));
    await expect(sut.submit(4)).rejects.toBeInstanceOf(TooManyRequestsError);
    gate.release();
    expect(await Promise.all([first, ...queued])).toEqual([0, 1, 2, 3]);
  });

  it('should fail the items of a group whose writer throws, and go on with the next group', async () => {
    let calls = 0;
    const sut = new GroupCommit<number, number>({
      name: 'items',
      maxBatch: 1,
      maxInFlight: 1,
      maxQueued: 10,
      run: (items) => {
        calls += 1;
        if (calls === 1) {
          return Promise.reject(new Error('boom'));
        }
        return Promise.resolve(items.map((v) => ({ ok: true as const, value: v })));
      },
    });
    const [a, b] = await Promise.allSettled([sut.submit(1), sut.submit(2)]);
    expect(a.status).toBe('rejected');
    expect(b).toEqual({ status: 'fulfilled', value: 2 });
  });
});
