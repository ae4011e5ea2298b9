import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { NotFoundError } from '../common/errors/domain.error';
import { generateRunName } from '../common/names/run-name';
import { Clock } from '../common/time/clock';
import { stateFromCreate } from '../orchestration/dto/state-create.mapper';
import type {
  OrchestrationResult,
  OrchestrationState,
  StateDetails,
} from '../orchestration/orchestration.types';
import type { StateType } from '../orchestration/states';
import type { CreateFlowDto, CreateFlowRunDto, SetFlowRunStateDto } from './dto/flow-runs.dto';
import { applyFlowRunTransforms, FlowRunTimes } from './flow-run-transforms';
import { FlowRow, FlowRunRow, toFlowJson, toFlowRunJson } from './flow-run.mapper';
import { queryRows } from './query-rows';

/** What task orchestration reads about a flow run. */
export interface FlowRunSnapshot {
  id: string;
  runCount: number;
  stateType: StateType | null;
  stateName: string | null;
  stateDetails: StateDetails | null;
}

/** The columns readForOrchestration selects. */
interface FlowRunStateRow extends Pick<FlowRunRow, 'id' | 'run_count' | 'state_type' | 'state_name'> {
  state_details: StateDetails | null;
}

const FLOW_RUN_NOT_FOUND = 'Flow run not found';

/** Minimal flows and flow runs (docs/reference.md §2), just enough for task runs to belong to a flow run. */
@Injectable()
export class FlowRunsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  async createFlow(dto: CreateFlowDto): Promise<{ flow: Record<string, unknown>; created: boolean }> {
    const inserted: FlowRow[] = await this.dataSource.query(
      `INSERT INTO flow (name, tags, labels) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING *`,
      [dto.name, JSON.stringify(dto.tags ?? []), JSON.stringify(dto.labels ?? {})],
    );
    if (inserted.length) {
      return { flow: toFlowJson(inserted[0]), created: true };
    }
    const [row] = await this.dataSource.query<FlowRow[]>(`SELECT * FROM flow WHERE name = $1`, [dto.name]);
    return { flow: toFlowJson(row), created: false };
  }

  async createFlowRun(
    dto: CreateFlowRunDto,
  ): Promise<{ flowRun: Record<string, unknown>; created: boolean }> {
    return this.dataSource.transaction(async (em) => {
      if (dto.idempotency_key) {
        const [existing] = await em.query<(FlowRunRow | undefined)[]>(
          `SELECT * FROM flow_run WHERE flow_id = $1 AND idempotency_key = $2`,
          [dto.flow_id, dto.idempotency_key],
        );
        if (existing) {
          return { flowRun: toFlowRunJson(existing), created: false };
        }
      }
      const [flow] = await em.query<(Pick<FlowRow, 'labels'> | undefined)[]>(
        `SELECT labels FROM flow WHERE id = $1`,
        [dto.flow_id],
      );
      const labels: Record<string, unknown> = {
        ...(flow?.labels ?? {}),
        'prefect.flow.id': dto.flow_id,
        ...(dto.deployment_id ? { 'prefect.deployment.id': dto.deployment_id } : {}),
        ...(dto.labels ?? {}),
      };
      const id = dto.id ?? randomUUID();
      const [row] = await em.query<FlowRunRow[]>(
        `INSERT INTO flow_run (id, name, flow_id, deployment_id, work_queue_name, flow_version, parameters,
           idempotency_key, context, empirical_policy, tags, labels, created_by, parent_task_run_id)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) RETURNING *`,
        [
          id,
          dto.name || generateRunName(),
          dto.flow_id,
          dto.deployment_id ?? null,
          dto.work_queue_name ?? null,
          dto.flow_version ?? null,
          JSON.stringify(dto.parameters ?? {}),
          dto.idempotency_key ?? null,
          JSON.stringify(dto.context ?? {}),
          JSON.stringify(dto.empirical_policy ?? {}),
          JSON.stringify(dto.tags ?? []),
          JSON.stringify(labels),
          dto.created_by ? JSON.stringify(dto.created_by) : null,
          dto.parent_task_run_id ?? null,
        ],
      );
      const proposed = stateFromCreate(dto.state ?? { type: 'PENDING' }, this.clock.now());
      const updated = await this.writeState(em, row, proposed);
      return { flowRun: toFlowRunJson(updated), created: true };
    });
  }

  async readFlowRun(id: string): Promise<Record<string, unknown>> {
    const [row] = await this.dataSource.query<(FlowRunRow | undefined)[]>(
      `SELECT * FROM flow_run WHERE id = $1`,
      [id],
    );
    if (!row) {
      throw new NotFoundError(FLOW_RUN_NOT_FOUND);
    }
    return toFlowRunJson(row);
  }

  async setFlowRunState(id: string, dto: SetFlowRunStateDto): Promise<OrchestrationResult> {
    const proposed = stateFromCreate(dto.state, this.clock.now());
    return this.dataSource.transaction(async (em) => {
      const [row] = await em.query<(FlowRunRow | undefined)[]>(
        `SELECT * FROM flow_run WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (!row) {
        throw new NotFoundError(FLOW_RUN_NOT_FOUND);
      }
      const updated = await this.writeState(em, row, proposed);
      return {
        state: updated.state as OrchestrationState,
        status: 'ACCEPT',
        details: { type: 'accept_details' },
      };
    });
  }

  async deleteFlowRun(id: string): Promise<void> {
    const rows = await queryRows(this.dataSource, `DELETE FROM flow_run WHERE id = $1 RETURNING id`, [id]);
    if (!rows.length) {
      throw new NotFoundError(FLOW_RUN_NOT_FOUND);
    }
  }

  /** For task orchestration, inside the caller's transaction. */
  async readForOrchestration(em: EntityManager, id: string): Promise<FlowRunSnapshot | null> {
    const [row] = await em.query<(FlowRunStateRow | undefined)[]>(
      `SELECT id, run_count, state_type, state_name, state->'state_details' AS state_details FROM flow_run WHERE id = $1`,
      [id],
    );
    if (!row) {
      return null;
    }
    return {
      id: row.id,
      runCount: row.run_count,
      stateType: row.state_type,
      stateName: row.state_name,
      stateDetails: row.state_details ?? null,
    };
  }

  private async writeState(
    em: EntityManager,
    row: FlowRunRow,
    proposed: OrchestrationState,
  ): Promise<FlowRunRow> {
    const initial = row.state ?? null;
    const times: FlowRunTimes = {
      id: row.id,
      runCount: row.run_count,
      startTime: row.start_time,
      endTime: row.end_time,
      expectedStartTime: row.expected_start_time,
      nextScheduledStartTime: row.next_scheduled_start_time,
      totalRunTime: row.total_run_time,
    };
    applyFlowRunTransforms(times, initial, proposed);
    const [updated] = await queryRows<FlowRunRow>(
      em,
      `UPDATE flow_run SET state_id = $2, state_type = $3, state_name = $4, state_timestamp = $5, state = $6,
         run_count = $7, start_time = $8, end_time = $9, expected_start_time = $10, next_scheduled_start_time = $11,
         total_run_time = make_interval(secs => $12), updated = now()
       WHERE id = $1 RETURNING *`,
      [
        row.id,
        proposed.id,
        proposed.type,
        proposed.name,
        proposed.timestamp,
        JSON.stringify(proposed),
        times.runCount,
        times.startTime,
        times.endTime,
        times.expectedStartTime,
        times.nextScheduledStartTime,
        times.totalRunTime,
      ],
    );
    return updated;
  }
}
