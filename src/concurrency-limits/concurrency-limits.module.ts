import { Module } from '@nestjs/common';
import { ConcurrencyLimitsV2Controller } from './concurrency-limits-v2.controller';
import { ConcurrencyLimitsV2Service } from './concurrency-limits-v2.service';
import { ConcurrencyLimitsController } from './concurrency-limits.controller';
import { ConcurrencyLimitsRepository } from './concurrency-limits.repository';
import { ConcurrencyLimitsService } from './concurrency-limits.service';
import { ConcurrencySlotsService } from './concurrency-slots.service';

/**
 * Tag concurrency limits: the v1 (`/concurrency_limits`) and v2 (`/v2/concurrency_limits`) APIs, and the slot
 * service behind the SecureTaskConcurrencySlots / ReleaseTaskConcurrencySlots rules (rules/). The app binds those
 * rules to orchestration's `TaskConcurrencyRules` port in src/bindings.module.ts.
 */
@Module({
  controllers: [ConcurrencyLimitsController, ConcurrencyLimitsV2Controller],
  providers: [
    ConcurrencyLimitsRepository,
    ConcurrencyLimitsService,
    ConcurrencyLimitsV2Service,
    ConcurrencySlotsService,
  ],
  exports: [ConcurrencySlotsService],
})
export class ConcurrencyLimitsModule {}
