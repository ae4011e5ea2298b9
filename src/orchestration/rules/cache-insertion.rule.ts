import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../orchestration-rule';

/** ALL→COMPLETED: an over-long cache key is flagged; a validated state with a cache key is cached. */
export class CacheInsertion extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('COMPLETED');

  override beforeTransition({ ctx, state, rejectTransition }: RuleScope): void {
    const cacheKey = state?.state_details.cache_key;
    const max = ctx.settings.maxCacheKeyLength;
    if (state && cacheKey && cacheKey.length > max) {
      // Upstream quirk (docs/reference.md §8 point 10): "rejected" to the same state, which is still written.
      rejectTransition(state, `Cache key exceeded maximum allowed length of ${max} characters.`);
    }
  }

  override async afterTransition({ ctx, state }: RuleScope): Promise<void> {
    const cacheKey = state?.state_details.cache_key;
    if (!state || !cacheKey) {
      return;
    }
    await ctx.ports.insertCacheEntry(cacheKey, state.state_details.cache_expiration ?? null, state.id);
  }
}
