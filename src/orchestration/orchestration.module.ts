import { Module } from '@nestjs/common';
import { DefaultTaskOrchestrationPolicy, OrchestrationPolicy } from './policies/orchestration-policy';

/**
 * Orchestration: the engine (pure functions), rules and task policies. Exports the `OrchestrationPolicy`
 * port, bound to upstream's task policies; override the provider to swap or extend rules. The tag-concurrency
 * rules are the `TaskConcurrencyRules` port, bound where the app is composed (src/bindings.module.ts), so this
 * folder never imports concurrency-limits/.
 */
@Module({
  providers: [{ provide: OrchestrationPolicy, useClass: DefaultTaskOrchestrationPolicy }],
  exports: [OrchestrationPolicy],
})
export class OrchestrationModule {}
