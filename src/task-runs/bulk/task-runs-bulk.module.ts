import { Module } from '@nestjs/common';
import { TaskRunBulkWriter } from './task-run-bulk.writer';

/**
 * The task-runs write side the recorder needs: bulk recording of client-emitted task-run events as task_run
 * upserts and task_run_state rows (docs/reference.md §5.3). Raw parameterised SQL on the app's DataSource.
 */
@Module({
  providers: [TaskRunBulkWriter],
  exports: [TaskRunBulkWriter],
})
export class TaskRunsBulkModule {}
