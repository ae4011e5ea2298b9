import { Module } from '@nestjs/common';
import { TaskConcurrencyRules } from '../orchestration/policies/task-policies';
import { ConcurrencyLimitsV2Controller } from './concurrency-limits-v2.controller';
import { ConcurrencyLimitsV2Service } from './concurrency-limits-v2.service';
import { ConcurrencyLimitsController } from './concurrency-limits.controller';
import { ConcurrencyLimitsRepository } from './concurrency-limits.repository';
import { ConcurrencyLimitsService } from './concurrency-limits.service';
import { ConcurrencySlotsService } from './concurrency-slots.service';
import { ConcurrencySlotRules } from './rules/concurrency-slot-rules';

/**
 * Tag concurrency limits: the v1 (`/concurrency_limits`) and v2 (`/v2/concurrency_limits`) APIs, and the slot
 * service behind the SecureTaskConcurrencySlots / ReleaseTaskConcurrencySlots rules. Exports those rules as the
 * orchestration's `TaskConcurrencyRules` extension point (OrchestrationModule imports this module).
 */
@Module({
  controllers: [ConcurrencyLimitsController, ConcurrencyLimitsV2Controller],
  providers: [
    ConcurrencyLimitsRepository,
    ConcurrencyLimitsService,
    ConcurrencyLimitsV2Service,
    ConcurrencySlotsService,
    { provide: TaskConcurrencyRules, useClass: ConcurrencySlotRules },
  ],
  exports: [ConcurrencySlotsService, TaskConcurrencyRules],
})
export class ConcurrencyLimitsModule {}
