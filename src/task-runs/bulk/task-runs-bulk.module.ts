import { Module } from '@nestjs/common';
import { TaskRunsPersistenceModule } from '../task-runs-persistence.module';
import { TaskRunBulkWriter } from './task-run-bulk.writer';

/**
 * The task-runs write side the recorder needs: bulk recording of client-emitted task-run events as task_run
 * upserts and task_run_state rows (docs/reference.md §5.3), through the task-runs persistence seam (TaskRunsRepository).
 */
@Module({
  imports: [TaskRunsPersistenceModule],
  providers: [TaskRunBulkWriter],
  exports: [TaskRunBulkWriter],
})
export class TaskRunsBulkModule {}
