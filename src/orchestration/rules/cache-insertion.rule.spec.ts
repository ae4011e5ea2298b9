import { fakeContext, FakePorts, run, st } from '../orchestration.testing';
import { CacheInsertion } from './cache-insertion.rule';

describe(CacheInsertion.name, () => {
  const sut = new CacheInsertion();

  it('should insert a cache entry for a validated state with a cache key', async () => {
    const ports = new FakePorts();
    const ctx = fakeContext({
      initial: st('RUNNING'),
      proposed: st('COMPLETED', { at: 2, details: { cache_key: 'k', cache_expiration: null } }),
      ports,
    });
    const r = await run(ctx, [sut]);
    expect(r.status).toBe('ACCEPT');
    expect(ports.cache).toHaveLength(1);
    expect(ports.cache[0]).toMatchObject({ key: 'k', state: { id: r.state?.id } });
  });

  it('should flag an over-long key but still write the state', async () => {
    const ports = new FakePorts();
    const key = 'x'.repeat(2001);
    const ctx = fakeContext({
      initial: st('RUNNING'),
      proposed: st('COMPLETED', { at: 2, details: { cache_key: key } }),
      ports,
    });
    const r = await run(ctx, [sut]);
    expect(r.status).toBe('REJECT');
    expect(r.details).toEqual({
      type: 'reject_details',
      reason: 'Cache key exceeded maximum allowed length of 2000 characters.',
    });
    expect(r.state?.type).toBe('COMPLETED');
    expect(ports.written).toHaveLength(1);
  });

  it('should not insert without a cache key', async () => {
    const ports = new FakePorts();
    await run(fakeContext({ proposed: st('COMPLETED'), ports }), [sut]);
    expect(ports.cache).toHaveLength(0);
  });
});
