import type { EntityManager } from 'typeorm';
import type { TaskOrchestrationContext } from '../../orchestration/orchestration-context';
import type { ConcurrencySlotsService } from '../concurrency-slots.service';

/** What the tag-concurrency rules need from the slot service (a fake in unit specs). */
export type TaskConcurrencySlots = Pick<ConcurrencySlotsService, 'secure' | 'undo' | 'release'>;

/** The orchestration transaction: slot changes must commit or roll back with the transition. */
export function orchestrationTransaction(ctx: TaskOrchestrationContext, rule: string): EntityManager {
  if (!ctx.transaction) {
    throw new Error(`${rule} needs the orchestration transaction (TaskOrchestrationContext.transaction)`);
  }
  return ctx.transaction;
}
