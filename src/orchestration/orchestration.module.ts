import { Module } from '@nestjs/common';

/** Orchestration: filled by its own issue (see docs/architecture.md). */
@Module({})
export class OrchestrationModule {}
