import { Module } from '@nestjs/common';

/** Events: filled by its own issue (see docs/architecture.md). */
@Module({})
export class EventsModule {}
