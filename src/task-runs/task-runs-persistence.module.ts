import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ArtifactEntity } from './entities/artifact.entity';
import { TaskRunCountDeltaEntity } from './entities/task-run-count-delta.entity';
import { TaskRunStateCacheEntity } from './entities/task-run-state-cache.entity';
import { TaskRunStateEntity } from './entities/task-run-state.entity';
import { TaskRunEntity } from './entities/task-run.entity';
import { TaskRunsRepository } from './task-runs.repository';

/**
 * The task-runs persistence seam alone (no controllers, no orchestration): `TaskRunsRepository`. Imported by
 * TaskRunsModule and TaskRunsBulkModule (the recorder's writer); the app binds it to the delivery store's
 * `TaskRunSnapshots` port in src/bindings.module.ts.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([
      TaskRunEntity,
      TaskRunStateEntity,
      TaskRunStateCacheEntity,
      ArtifactEntity,
      TaskRunCountDeltaEntity,
    ]),
  ],
  providers: [TaskRunsRepository],
  exports: [TaskRunsRepository],
})
export class TaskRunsPersistenceModule {}
