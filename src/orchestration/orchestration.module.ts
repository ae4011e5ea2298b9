import { Module } from '@nestjs/common';
import { ConcurrencyLimitsModule } from '../concurrency-limits/concurrency-limits.module';
import { DefaultTaskOrchestrationPolicy, OrchestrationPolicy } from './policies/orchestration-policy';

/**
 * Orchestration: the engine (pure functions), rules and task policies. Exports the `OrchestrationPolicy`
 * port, bound to upstream's task policies; override the provider to swap or extend rules. The tag-concurrency
 * rules come from `ConcurrencyLimitsModule` (its `TaskConcurrencyRules` provider).
 */
@Module({
  imports: [ConcurrencyLimitsModule],
  providers: [{ provide: OrchestrationPolicy, useClass: DefaultTaskOrchestrationPolicy }],
  exports: [OrchestrationPolicy],
})
export class OrchestrationModule {}
