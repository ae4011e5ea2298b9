import { ALL_STATES, OrchestrationRule, RuleScope, states } from '../orchestration-rule';
import { makeState } from '../state-factory';

/** ALL→RUNNING: a proposed state with a live cache entry is rejected to a copy of the cached state. */
export class CacheRetrieval extends OrchestrationRule {
  readonly fromStates = ALL_STATES;
  readonly toStates = states('RUNNING');

  override async beforeTransition({ ctx, state, rejectTransition }: RuleScope): Promise<void> {
    const cacheKey = state?.state_details.cache_key;
    if (!state || !cacheKey || state.state_details.refresh_cache === true) {
      return;
    }
    const cached = await ctx.ports.findCachedState(cacheKey, ctx.now);
    if (!cached) {
      return;
    }
    const copy = makeState(
      {
        type: cached.type,
        name: 'Cached',
        message: cached.message,
        data: cached.data,
        state_details: { ...cached.state_details },
      },
      ctx.now,
      ctx.nowMicros / 1000,
    );
    rejectTransition(copy, 'Retrieved state from cache');
  }
}
