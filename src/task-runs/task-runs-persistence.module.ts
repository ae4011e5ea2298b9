import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TaskRunSnapshots } from '../task-queues/task-run-snapshots.port';
import { ArtifactEntity } from './entities/artifact.entity';
import { TaskRunStateCacheEntity } from './entities/task-run-state-cache.entity';
import { TaskRunStateEntity } from './entities/task-run-state.entity';
import { TaskRunEntity } from './entities/task-run.entity';
import { TaskRunsRepository } from './task-runs.repository';

/**
 * The task-runs persistence seam alone (no controllers, no orchestration): `TaskRunsRepository`, also provided
 * as the delivery store's `TaskRunSnapshots` port. Imported by TaskRunsModule, TaskRunsBulkModule (the recorder's
 * writer) and TaskQueuesModule, without import cycles.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([TaskRunEntity, TaskRunStateEntity, TaskRunStateCacheEntity, ArtifactEntity]),
  ],
  providers: [TaskRunsRepository, { provide: TaskRunSnapshots, useExisting: TaskRunsRepository }],
  exports: [TaskRunsRepository, TaskRunSnapshots],
})
export class TaskRunsPersistenceModule {}
