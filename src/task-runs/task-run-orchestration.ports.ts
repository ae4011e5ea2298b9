import type { EntityManager } from 'typeorm';
import type { Timestamp } from '../common/time/timestamp';
import type { FlowRunsService } from '../flow-runs/flow-runs.service';
import type { FlowRunView, OrchestrationPorts } from '../orchestration/orchestration-context';
import type { OrchestratedRun, OrchestrationState } from '../orchestration/orchestration.types';
import type { TaskRunsRepository } from './task-runs.repository';

/** The run already has a state at the proposed timestamp (unique (task_run_id, timestamp)). */
export class StateTimestampConflict extends Error {
  constructor() {
    super('The task run already has a state with this timestamp.');
    this.name = 'StateTimestampConflict';
  }
}

export const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));

/** Where a state's result goes (docs/reference.md §1.2): inline, or an artifact row the state points to. */
export interface ResultPlacement {
  /** The state row's inline `data`. */
  inline: unknown;
  /** The artifact to create, if any. */
  artifact: { key: unknown; type: unknown; description: unknown; data: unknown } | null;
  /** The data the validated state reads back. */
  data: unknown;
}

/**
 * Data other than null / `{"type":"unpersisted"}` becomes an artifact, with `artifact_key`, `artifact_type`
 * and `artifact_description` popped into its columns; the state row then keeps no inline data.
 */
export function placeResult(data: unknown): ResultPlacement {
  const value = data ?? null;
  const unpersisted =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (value as Record<string, unknown>).type === 'unpersisted' &&
    Object.keys(value).length === 1;
  if (value === null || unpersisted) {
    return { inline: value, artifact: null, data: value };
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    const { artifact_key, artifact_type, artifact_description, ...rest } = value as Record<string, unknown>;
    return {
      inline: null,
      artifact: {
        key: artifact_key ?? null,
        type: artifact_type ?? null,
        description: artifact_description ?? null,
        data: rest,
      },
      data: rest,
    };
  }
  return { inline: null, artifact: { key: null, type: null, description: null, data: value }, data: value };
}

/**
 * The orchestration ports of one task-run write: reads (flow run, cache) go to the database through the
 * given EntityManager; writes (the validated state with its result placement, cache entries) are buffered,
 * so the caller writes the run, its state, artifact and cache rows in one statement after the rules ran:
 * at create only if the run is really new, at set_state together with the locked run's new fields.
 */
export class BufferedWritePorts implements OrchestrationPorts {
  state: { state: OrchestrationState; placement: ResultPlacement } | null = null;
  readonly cacheEntries: {
    cache_key: string;
    cache_expiration: Timestamp | null;
    task_run_state_id: string;
  }[] = [];

  constructor(
    private readonly em: EntityManager,
    private readonly flowRuns: FlowRunsService,
    private readonly cache: Pick<TaskRunsRepository, 'findCachedState'>,
  ) {}

  readFlowRun(flowRunId: string): Promise<FlowRunView | null> {
    return this.flowRuns.readForOrchestration(this.em, flowRunId);
  }

  findCachedState(cacheKey: string, now: Timestamp): Promise<OrchestrationState | null> {
    return this.cache.findCachedState(this.em, cacheKey, now);
  }

  insertCacheEntry(cacheKey: string, expiration: Timestamp | null, stateId: string): Promise<void> {
    this.cacheEntries.push({ cache_key: cacheKey, cache_expiration: expiration, task_run_state_id: stateId });
    return Promise.resolve();
  }

  writeState(run: OrchestratedRun, state: OrchestrationState): Promise<OrchestrationState> {
    const placement = placeResult(state.data);
    this.state = { state, placement };
    run.stateId = state.id;
    return Promise.resolve({ ...state, data: placement.data });
  }
}
