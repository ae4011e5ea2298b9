import { Injectable, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { OrchestrationRule, type PolicyEntry, type UniversalTransform } from '../orchestration-rule';
import type { StateType } from '../states';
import { GLOBAL_TASK_TRANSFORMS } from '../transforms/global-task-transforms';
import {
  backgroundTaskPolicy,
  ConcurrencySlotEntries,
  coreTaskPolicy,
  minimalTaskPolicy,
  TaskConcurrencyRules,
} from './task-policies';

export type TaskPolicyName = 'core' | 'minimal' | 'background';

/** Why a transition is being orchestrated: decides the policy (docs/reference.md, beyond upstream 2). */
export interface TransitionRequest {
  /** `force=true` on set_state, or a run's initial state at create. */
  force: boolean;
  /** The proposed state has `state_details.deferred`. */
  deferred: boolean;
}

/** Default: Core; `force` → Minimal; `deferred` → Background (which overrides force). */
export function choosePolicy(request: TransitionRequest): TaskPolicyName {
  if (request.deferred) {
    return 'background';
  }
  return request.force ? 'minimal' : 'core';
}

/**
 * The orchestration policy port (an abstract class used as the DI token). `set_state` and create ask it
 * for the ordered entries of a transition and for the global transforms; a module swaps or extends rules
 * with `{ provide: OrchestrationPolicy, useClass: … }` (or extends `DefaultTaskOrchestrationPolicy`).
 */
export abstract class OrchestrationPolicy {
  abstract entriesFor(
    from: StateType | null,
    to: StateType,
    request: TransitionRequest,
  ): readonly PolicyEntry[];

  globalTransforms(): readonly UniversalTransform[] {
    return GLOBAL_TASK_TRANSFORMS;
  }

  /**
   * Called once before a group of runs is orchestrated in one transaction (group commit, docs/performance.md):
   * rules that read storage per run may prefetch for the whole group here. Default: nothing.
   */
  prepareGroup(_transaction: EntityManager, _runs: readonly GroupRun[]): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The same prefetch for runs known by id only, issued together with the statement that locks their rows in a
   * pipelined transaction (no round trip of its own; the prefetch reads what it needs of the runs in SQL, after
   * the locks are held). Default: nothing.
   */
  prepareGroupByIds(_transaction: EntityManager, _taskRunIds: readonly string[]): Promise<void> {
    return Promise.resolve();
  }
}

/** A run of a group about to be orchestrated together. */
export interface GroupRun {
  id: string;
  tags: readonly string[];
  /** A run being created under an id the server just generated: it cannot hold any slot yet. */
  fresh?: boolean;
}

/** Keeps the rules that apply to (from, to) and every universal transform, in order. */
export function selectEntries(
  entries: readonly PolicyEntry[],
  from: StateType | null,
  to: StateType,
): PolicyEntry[] {
  return entries.filter((e) => !(e instanceof OrchestrationRule) || e.appliesTo(from, to));
}

/** Upstream's task policies (docs/reference.md §4.2), with the tag-concurrency rules spliced in when provided. */
@Injectable()
export class DefaultTaskOrchestrationPolicy extends OrchestrationPolicy {
  protected readonly policies: Record<TaskPolicyName, readonly PolicyEntry[]>;

  constructor(@Optional() private readonly concurrency?: TaskConcurrencyRules) {
    super();
    const slots: ConcurrencySlotEntries = {
      secureSlots: concurrency?.secureSlots() ?? [],
      releaseSlots: concurrency?.releaseSlots() ?? [],
    };
    this.policies = {
      core: coreTaskPolicy(slots),
      minimal: minimalTaskPolicy(slots),
      background: backgroundTaskPolicy(slots),
    };
  }

  entriesFor(from: StateType | null, to: StateType, request: TransitionRequest): readonly PolicyEntry[] {
    return selectEntries(this.policies[choosePolicy(request)], from, to);
  }

  override prepareGroup(transaction: EntityManager, runs: readonly GroupRun[]): Promise<void> {
    return this.concurrency?.prepareGroup?.(transaction, runs) ?? Promise.resolve();
  }

  override prepareGroupByIds(transaction: EntityManager, taskRunIds: readonly string[]): Promise<void> {
    return this.concurrency?.prepareGroupByIds?.(transaction, taskRunIds) ?? Promise.resolve();
  }
}
