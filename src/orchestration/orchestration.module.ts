import { Module } from '@nestjs/common';
import { DefaultTaskOrchestrationPolicy, OrchestrationPolicy } from './policies/orchestration-policy';

/**
 * Orchestration: the engine (pure functions), rules and task policies. Exports the `OrchestrationPolicy`
 * port, bound to upstream's task policies; override the provider to swap or extend rules.
 */
@Module({
  providers: [{ provide: OrchestrationPolicy, useClass: DefaultTaskOrchestrationPolicy }],
  exports: [OrchestrationPolicy],
})
export class OrchestrationModule {}
