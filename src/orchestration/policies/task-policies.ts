import type { EntityManager } from 'typeorm';
import type { PolicyEntry } from '../orchestration-rule';
import { CacheInsertion } from '../rules/cache-insertion.rule';
import { CacheRetrieval } from '../rules/cache-retrieval.rule';
import { CopyScheduledTime } from '../rules/copy-scheduled-time.rule';
import { CopyTaskParametersID } from '../rules/copy-task-parameters-id.rule';
import { EnqueueScheduledTasks } from '../rules/enqueue-scheduled-tasks.rule';
import { HandleTaskTerminalStateTransitions } from '../rules/handle-task-terminal-state-transitions.rule';
import { PreventPendingTransitions } from '../rules/prevent-pending-transitions.rule';
import { PreventRunningTasksFromStoppedFlows } from '../rules/prevent-running-tasks-from-stopped-flows.rule';
import { RenameReruns } from '../rules/rename-reruns.rule';
import { RetryFailedTasks } from '../rules/retry-failed-tasks.rule';
import { UpdateFlowRunTrackerOnTasks } from '../rules/update-flow-run-tracker-on-tasks.rule';
import { WaitForScheduledTime } from '../rules/wait-for-scheduled-time.rule';

/**
 * EXTENSION POINT for tag concurrency (docs/reference.md §4.4, its own issue). The two rules are not part of this
 * module; whoever implements them provides `TaskConcurrencyRules` and the policies splice them in at the
 * positions upstream uses:
 *  - `secureSlots` (SecureTaskConcurrencySlots): Core, after PreventRunningTasksFromStoppedFlows;
 *  - `releaseSlots` (ReleaseTaskConcurrencySlots, a universal transform): last in Core, ClientSide and
 *    Background (before EnqueueScheduledTasks), and the only entry of Minimal.
 * Absent, both are empty. The app binds it in src/bindings.module.ts (`{ provide: TaskConcurrencyRules, useClass: … }`);
 * `DefaultTaskOrchestrationPolicy` injects it optionally. Rules see the run's tags on `ctx.run.tags` and the
 * orchestration transaction on `ctx.transaction` (at create too: the new run's initial state is orchestrated in
 * the transaction that inserts it, which is rolled back when the run already exists).
 */
export abstract class TaskConcurrencyRules {
  abstract secureSlots(): readonly PolicyEntry[];
  abstract releaseSlots(): readonly PolicyEntry[];
  /** Optional prefetch for a group of runs orchestrated in one transaction (OrchestrationPolicy.prepareGroup). */
  prepareGroup?(
    transaction: EntityManager,
    runs: readonly { id: string; tags: readonly string[]; fresh?: boolean }[],
  ): Promise<void>;
  /** The same for runs known by id only (OrchestrationPolicy.prepareGroupByIds). */
  prepareGroupByIds?(transaction: EntityManager, taskRunIds: readonly string[]): Promise<void>;
}

export interface ConcurrencySlotEntries {
  secureSlots: readonly PolicyEntry[];
  releaseSlots: readonly PolicyEntry[];
}

export const NO_CONCURRENCY_RULES: ConcurrencySlotEntries = { secureSlots: [], releaseSlots: [] };

/** CoreTaskPolicy (docs/reference.md §4.2): API `set_state`, not forced, not deferred. */
export function coreTaskPolicy(c: ConcurrencySlotEntries = NO_CONCURRENCY_RULES): PolicyEntry[] {
  return [
    new CacheRetrieval(),
    new HandleTaskTerminalStateTransitions(),
    new PreventRunningTasksFromStoppedFlows(),
    ...c.secureSlots, // SecureTaskConcurrencySlots
    new CopyScheduledTime(),
    new WaitForScheduledTime(),
    new RetryFailedTasks(),
    new RenameReruns(),
    new UpdateFlowRunTrackerOnTasks(),
    new CacheInsertion(),
    ...c.releaseSlots, // ReleaseTaskConcurrencySlots
  ];
}

/** ClientSideTaskOrchestrationPolicy: Core without SecureTaskConcurrencySlots (unused by the server). */
export function clientSideTaskOrchestrationPolicy(
  c: ConcurrencySlotEntries = NO_CONCURRENCY_RULES,
): PolicyEntry[] {
  return coreTaskPolicy({ secureSlots: [], releaseSlots: c.releaseSlots });
}

/** BackgroundTaskPolicy: a proposed state with `state_details.deferred` (overrides force). */
export function backgroundTaskPolicy(c: ConcurrencySlotEntries = NO_CONCURRENCY_RULES): PolicyEntry[] {
  return [
    new PreventPendingTransitions(),
    new CacheRetrieval(),
    new HandleTaskTerminalStateTransitions(),
    new CopyScheduledTime(),
    new CopyTaskParametersID(),
    new WaitForScheduledTime(),
    new RetryFailedTasks(),
    new RenameReruns(),
    new UpdateFlowRunTrackerOnTasks(),
    new CacheInsertion(),
    ...c.releaseSlots, // ReleaseTaskConcurrencySlots
    new EnqueueScheduledTasks(),
  ];
}

/** MinimalTaskPolicy: `force=true`, or the initial state of a created run. */
export function minimalTaskPolicy(c: ConcurrencySlotEntries = NO_CONCURRENCY_RULES): PolicyEntry[] {
  return [...c.releaseSlots];
}
