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

function isUnpersisted(data: unknown): boolean {
  return (
    typeof data === 'object' &&
    data !== null &&
    !Array.isArray(data) &&
    (data as Record<string, unknown>).type === 'unpersisted' &&
    Object.keys(data).length === 1
  );
}

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));

/** The orchestration ports of one task-run transaction (cache, flow run, state writes) on its EntityManager. */
export class TaskRunOrchestrationPorts implements OrchestrationPorts {
  constructor(
    private readonly em: EntityManager,
    private readonly flowRuns: FlowRunsService,
  ) {}

  readFlowRun(flowRunId: string): Promise<FlowRunView | null> {
    return this.flowRuns.readForOrchestration(this.em, flowRunId);
  }

  async findCachedState(cacheKey: string, now: Timestamp): Promise<OrchestrationState | null> {
    const [row] = await this.em.query(
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

  async insertCacheEntry(cacheKey: string, expiration: Timestamp | null, stateId: string): Promise<void> {
    await this.em.query(
      `INSERT INTO task_run_state_cache (cache_key, cache_expiration, task_run_state_id) VALUES ($1, $2, $3)`,
      [cacheKey, expiration, stateId],
    );
  }

  /**
   * `validate_proposed_state` storage (spec §1.2): data other than null / `{"type":"unpersisted"}` becomes
   * an artifact (key/type/description popped from `artifact_*`), and the state row points to it.
   */
  async writeState(run: OrchestratedRun, state: OrchestrationState): Promise<OrchestrationState> {
    let inline: unknown = state.data ?? null;
    let artifactId: string | null = null;
    let data: unknown = inline;
    if (inline !== null && !isUnpersisted(inline)) {
      let key: unknown = null;
      let type: unknown = null;
      let description: unknown = null;
      if (typeof inline === 'object' && !Array.isArray(inline)) {
        const { artifact_key, artifact_type, artifact_description, ...rest } = inline as Record<
          string,
          unknown
        >;
        key = artifact_key ?? null;
        type = artifact_type ?? null;
        description = artifact_description ?? null;
        data = rest;
      }
      const [artifact] = await this.em.query(
        `INSERT INTO artifact (key, type, description, data, task_run_id, flow_run_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [key, type, description, json(data), run.id, run.flowRunId],
      );
      artifactId = artifact.id;
      inline = null;
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
        json(inline),
        artifactId,
      ],
    );
    if (!inserted.length) throw new StateTimestampConflict();
    run.stateId = state.id;
    return { ...state, data };
  }
}
