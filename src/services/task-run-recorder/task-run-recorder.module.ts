import { Module } from '@nestjs/common';
import { EventsModule } from '../../events/events.module';
import { TaskRunsBulkModule } from '../../task-runs/bulk/task-runs-bulk.module';
import { TaskRunRecorder } from './task-run-recorder.service';

/** The TaskRunRecorder service: client task-run events from the bus → task runs and states (docs/reference.md §5.3). */
@Module({
  imports: [EventsModule, TaskRunsBulkModule],
  providers: [TaskRunRecorder],
  exports: [TaskRunRecorder],
})
export class TaskRunRecorderModule {}
