import { Module } from '@nestjs/common';

/** TaskRuns: filled by its own issue (see docs/architecture.md). */
@Module({})
export class TaskRunsModule {}
