import { Module } from '@nestjs/common';
import { FlowRunsModule } from '../flow-runs/flow-runs.module';
import { OrchestrationModule } from '../orchestration/orchestration.module';
import { TaskQueuesModule } from '../task-queues/task-queues.module';
import { TaskRunQueriesService } from './task-run-queries.service';
import { TaskRunStatesController } from './task-run-states.controller';
import { TaskRunMetrics } from './task-run.metrics';
import { TaskRunsPersistenceModule } from './task-runs-persistence.module';
import { TaskRunsController } from './task-runs.controller';
import { TaskRunsService } from './task-runs.service';
import { UiTaskRunsController } from './ui-task-runs.controller';

/**
 * Task runs: the task-run, task-run-state and UI routes. Exports `TaskRunsService` (create, read the full TaskRun
 * JSON, set_state). Every statement on `task_run`, `task_run_state`, `task_run_state_cache` and `artifact` is in
 * `TaskRunsRepository` (TaskRunsPersistenceModule); the one row → wire renderer is `toTaskRunJson`.
 */
@Module({
  imports: [TaskRunsPersistenceModule, OrchestrationModule, FlowRunsModule, TaskQueuesModule],
  controllers: [TaskRunsController, TaskRunStatesController, UiTaskRunsController],
  providers: [TaskRunsService, TaskRunQueriesService, TaskRunMetrics],
  exports: [TaskRunsService],
})
export class TaskRunsModule {}
