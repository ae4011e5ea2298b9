import { fakeContext, FakePorts, run, st } from '../orchestration.testing';
import { CacheRetrieval } from './cache-retrieval.rule';

describe(CacheRetrieval.name, () => {
  const sut = new CacheRetrieval();

  it('should reject to a fresh Cached copy when a cache entry exists', async () => {
    const ports = new FakePorts();
    const cached = st('COMPLETED', { data: { v: 1 }, details: { cache_key: 'k' } });
    ports.cache.push({ key: 'k', expiration: null, state: cached });
    const ctx = fakeContext({
      initial: st('PENDING'),
      proposed: st('RUNNING', { details: { cache_key: 'k' } }),
      ports,
    });
    const r = await run(ctx, [sut]);
    expect(r.status).toBe('REJECT');
    expect(r.details).toEqual({ type: 'reject_details', reason: 'Retrieved state from cache' });
    expect(r.state).toMatchObject({ type: 'COMPLETED', name: 'Cached', data: { v: 1 } });
    expect(r.state?.id).not.toBe(cached.id);
    expect(r.state?.timestamp).toBe(ctx.now);
  });

  it('should accept when refresh_cache is set or nothing is cached', async () => {
    const ports = new FakePorts();
    ports.cache.push({ key: 'k', expiration: null, state: st('COMPLETED') });
    const refresh = fakeContext({
      proposed: st('RUNNING', { details: { cache_key: 'k', refresh_cache: true } }),
      ports,
    });
    expect((await run(refresh, [sut])).status).toBe('ACCEPT');
    const miss = fakeContext({ proposed: st('RUNNING', { details: { cache_key: 'other' } }), ports });
    expect((await run(miss, [sut])).status).toBe('ACCEPT');
  });
});
