import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { FlowRunsModule } from '../flow-runs/flow-runs.module';
import { OrchestrationModule } from '../orchestration/orchestration.module';
import { TaskQueuesModule } from '../task-queues/task-queues.module';
import { TaskRunQueriesService } from './task-run-queries.service';
import { TaskRunStatesController } from './task-run-states.controller';
import { TaskRunWritesFastPath, TaskRunWritesMiddleware } from './task-run-writes.middleware';
import { TaskRunMetrics } from './task-run.metrics';
import { TaskRunsPersistenceModule } from './task-runs-persistence.module';
import { TaskRunsController } from './task-runs.controller';
import { TaskRunsService } from './task-runs.service';
import { UiTaskRunsController } from './ui-task-runs.controller';

/**
 * Task runs: the task-run, task-run-state and UI routes. Exports `TaskRunsService` (create, read the full TaskRun
 * JSON, set_state). Every statement on `task_run`, `task_run_state`, `task_run_state_cache` and `artifact` is in
 * `TaskRunsRepository` (TaskRunsPersistenceModule); the one row → wire renderer is `toTaskRunJson`.
 * The two hot write routes have a fast path in front of their controller route (TaskRunWritesMiddleware,
 * docs/performance.md "Fourth round").
 */
@Module({
  imports: [TaskRunsPersistenceModule, OrchestrationModule, FlowRunsModule, TaskQueuesModule],
  controllers: [TaskRunsController, TaskRunStatesController, UiTaskRunsController],
  providers: [TaskRunsService, TaskRunQueriesService, TaskRunMetrics, TaskRunWritesFastPath],
  exports: [TaskRunsService],
})
export class TaskRunsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(TaskRunWritesMiddleware)
      .forRoutes(
        { path: 'task_runs', method: RequestMethod.POST },
        { path: 'task_runs/:id/set_state', method: RequestMethod.POST },
      );
  }
}
