import { Global, Module } from '@nestjs/common';
import { ConcurrencyLimitsModule } from './concurrency-limits/concurrency-limits.module';
import { ConcurrencySlotRules } from './concurrency-limits/rules/concurrency-slot-rules';
import { TaskConcurrencyRules } from './orchestration/policies/task-policies';
import { TaskRunSnapshots } from './task-queues/task-run-snapshots.port';
import { TaskRunsPersistenceModule } from './task-runs/task-runs-persistence.module';
import { TaskRunsRepository } from './task-runs/task-runs.repository';

/**
 * Where the app binds a port one folder defines to the adapter another folder implements, when the folder that
 * owns the port must not import the adapter's folder (that would close a folder cycle). Each port is an abstract
 * class owned by its consumer; the adapters live with the data they use:
 *  - orchestration's `TaskConcurrencyRules` ← concurrency-limits' `ConcurrencySlotRules` (the tag-concurrency
 *    rules, spliced into the task policies by `DefaultTaskOrchestrationPolicy`);
 *  - task-queues' `TaskRunSnapshots` ← task-runs' `TaskRunsRepository` (delivery reads task runs only through it).
 * Global, so the consuming modules resolve the ports without importing the adapters' modules. The folder graph is
 * drawn in docs/architecture.md and checked by test/unit/module-graph.spec.ts.
 */
@Global()
@Module({
  imports: [ConcurrencyLimitsModule, TaskRunsPersistenceModule],
  providers: [
    { provide: TaskConcurrencyRules, useClass: ConcurrencySlotRules },
    { provide: TaskRunSnapshots, useExisting: TaskRunsRepository },
  ],
  exports: [TaskConcurrencyRules, TaskRunSnapshots],
})
export class BindingsModule {}
