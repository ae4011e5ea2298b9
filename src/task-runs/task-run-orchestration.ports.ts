import type { EntityManager } from 'typeorm';
import type { Timestamp } from '../common/time/timestamp';
import type { FlowRunsService } from '../flow-runs/flow-runs.service';
import type { FlowRunView, OrchestrationPorts } from '../orchestration/orchestration-context';
import type { OrchestratedRun, OrchestrationState } from '../orchestration/orchestration.types';
import { stateRowToJson } from './task-run.mapper';

class StateTimestampConflict extends Error {
  constructor() {
    super('The task run already has a state with this timestamp.');
    this.name = 'StateTimestampConflict';
  }
}

export const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));

/** Where a state's result goes (spec §1.2): inline, or an artifact row the state points to. */
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
  if (value === null || unpersisted) return { inline: value, artifact: null, data: value };
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

async function findCachedState(
  em: EntityManager,
  cacheKey: string,
  now: Timestamp,
): Promise<OrchestrationState | null> {
  const [row] = await em.query(
    `SELECT s.*, a.data AS artifact_data
       FROM task_run_state_cache c
       JOIN task_run_state s ON s.id = c.task_run_state_id
       LEFT JOIN artifact a ON a.id = s.result_artifact_id
      WHERE c.cache_key = $1 AND (c.cache_expiration IS NULL OR c.cache_expiration > $2::timestamptz)
      ORDER BY c.created DESC
      LIMIT 1`,
    [cacheKey, now],
  );
  return row ? stateRowToJson(row) : null;
}

/** The orchestration ports of one task-run transaction (cache, flow run, state writes) on its EntityManager. */
export class TaskRunOrchestrationPorts implements OrchestrationPorts {
  constructor(
    private readonly em: EntityManager,
    private readonly flowRuns: FlowRunsService,
  ) {}

  readFlowRun(flowRunId: string): Promise<FlowRunView | null> {
    return this.flowRuns.readForOrchestration(this.em, flowRunId);
  }

  findCachedState(cacheKey: string, now: Timestamp): Promise<OrchestrationState | null> {
    return findCachedState(this.em, cacheKey, now);
  }

  async insertCacheEntry(cacheKey: string, expiration: Timestamp | null, stateId: string): Promise<void> {
    await this.em.query(
      `INSERT INTO task_run_state_cache (cache_key, cache_expiration, task_run_state_id) VALUES ($1, $2, $3)`,
      [cacheKey, expiration, stateId],
    );
  }

  /** `validate_proposed_state` storage: the optional artifact, then the state row (unique per run and timestamp). */
  async writeState(run: OrchestratedRun, state: OrchestrationState): Promise<OrchestrationState> {
    const placement = placeResult(state.data);
    let artifactId: string | null = null;
    if (placement.artifact) {
      const a = placement.artifact;
      const [artifact] = await this.em.query(
        `INSERT INTO artifact (key, type, description, data, task_run_id, flow_run_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [a.key, a.type, a.description, json(a.data), run.id, run.flowRunId],
      );
      artifactId = artifact.id;
    }
    const inserted: unknown[] = await this.em.query(
      `INSERT INTO task_run_state (id, task_run_id, type, timestamp, name, message, state_details, data, result_artifact_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT DO NOTHING RETURNING id`,
      [
        state.id,
        run.id,
        state.type,
        state.timestamp,
        state.name,
        state.message,
        JSON.stringify(state.state_details ?? {}),
        json(placement.inline),
        artifactId,
      ],
    );
    if (!inserted.length) throw new StateTimestampConflict();
    run.stateId = state.id;
    return { ...state, data: placement.data };
  }
}

/**
 * Ports for orchestrating the initial state of a run that is not inserted yet: reads go to the database,
 * writes (the state with its result placement, cache entries) are buffered so the run, its state, artifact
 * and cache rows are written by one INSERT … statement only if the run is really new.
 */
export class BufferedCreatePorts implements OrchestrationPorts {
  state: { state: OrchestrationState; placement: ResultPlacement } | null = null;
  readonly cacheEntries: {
    cache_key: string;
    cache_expiration: Timestamp | null;
    task_run_state_id: string;
  }[] = [];

  constructor(
    private readonly em: EntityManager,
    private readonly flowRuns: FlowRunsService,
  ) {}

  readFlowRun(flowRunId: string): Promise<FlowRunView | null> {
    return this.flowRuns.readForOrchestration(this.em, flowRunId);
  }

  findCachedState(cacheKey: string, now: Timestamp): Promise<OrchestrationState | null> {
    return findCachedState(this.em, cacheKey, now);
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
