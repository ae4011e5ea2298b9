import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FlowRunsModule } from '../flow-runs/flow-runs.module';
import { OrchestrationModule } from '../orchestration/orchestration.module';
import { TaskQueuesModule } from '../task-queues/task-queues.module';
import { ArtifactEntity } from './entities/artifact.entity';
import { TaskRunStateCacheEntity } from './entities/task-run-state-cache.entity';
import { TaskRunStateEntity } from './entities/task-run-state.entity';
import { TaskRunEntity } from './entities/task-run.entity';
import { TaskRunQueriesService } from './task-run-queries.service';
import { TaskRunStatesController } from './task-run-states.controller';
import { TaskRunsController } from './task-runs.controller';
import { TaskRunsService } from './task-runs.service';
import { UiTaskRunsController } from './ui-task-runs.controller';

/**
 * Task runs: `task_run`, `task_run_state`, `task_run_state_cache`, `artifact`; the task-run, task-run-state
 * and UI routes. Exports `TaskRunsService` (create, read the full TaskRun JSON, set_state). The TaskRun JSON
 * mapper is `task-run.mapper.ts` (`toTaskRunJson`, `TASK_RUN_SELECT`/`TASK_RUN_FROM`) for consistent reads.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([TaskRunEntity, TaskRunStateEntity, TaskRunStateCacheEntity, ArtifactEntity]),
    OrchestrationModule,
    FlowRunsModule,
    TaskQueuesModule,
  ],
  controllers: [TaskRunsController, TaskRunStatesController, UiTaskRunsController],
  providers: [TaskRunsService, TaskRunQueriesService],
  exports: [TaskRunsService],
})
export class TaskRunsModule {}
