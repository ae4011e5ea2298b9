import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { TaskRunsBulkModule } from '../task-runs/bulk/task-runs-bulk.module';
import { TaskRunsPersistenceModule } from '../task-runs/task-runs-persistence.module';
import { DeadLetterReplayer } from './dead-letter-replayer/dead-letter-replayer.background';
import { EventPersister } from './event-persister/event-persister.background';
import { EventRetentionService } from './event-retention/event-retention.background';
import { TaskRunCountsService } from './task-run-counts/task-run-counts.background';
import { TaskRunRecorder } from './task-run-recorder/task-run-recorder.background';

/**
 * Every Prefect background service, in one list (what `services ls` shows). Each is a `@BackgroundService` in
 * its own folder, in a `*.background.ts` file; the framework that runs them (registry, runner, bases, batching,
 * dead letters) is src/background/. Services depend on feature modules, never the other way round
 * (docs/adr/0006-background-services-layout.md).
 */
@Module({
  imports: [EventsModule, TaskRunsBulkModule, TaskRunsPersistenceModule],
  providers: [
    EventPersister,
    EventRetentionService,
    TaskRunRecorder,
    DeadLetterReplayer,
    TaskRunCountsService,
  ],
})
export class ServicesModule {}
