import type { OrchestrationState } from '../orchestration/orchestration.types';
import type { StateType } from '../orchestration/states';

/** A `flow` row as the pg driver returns it (jsonb parsed; the columns are passed through untouched). */
export interface FlowRow {
  id: string;
  created: unknown;
  updated: unknown;
  name: string;
  tags: unknown;
  labels: Record<string, unknown> | null;
}

/** A `flow_run` row as the pg driver returns it (`SELECT *` / `RETURNING *`). */
export interface FlowRunRow {
  id: string;
  created: unknown;
  updated: unknown;
  name: string;
  flow_id: string;
  state_id: string | null;
  deployment_id: string | null;
  work_queue_name: string | null;
  flow_version: string | null;
  parameters: unknown;
  idempotency_key: string | null;
  context: unknown;
  empirical_policy: unknown;
  tags: unknown;
  labels: unknown;
  parent_task_run_id: string | null;
  state_type: StateType | null;
  state_name: string | null;
  run_count: number;
  expected_start_time: string | null;
  next_scheduled_start_time: string | null;
  start_time: string | null;
  end_time: string | null;
  total_run_time: number;
  created_by: unknown;
  state: OrchestrationState | null;
}

/** A `flow` row → Flow JSON. */
export function toFlowJson(row: FlowRow): Record<string, unknown> {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    tags: row.tags,
    labels: row.labels,
  };
}

/** A `flow_run` row → FlowRun JSON (the minimal subset this server keeps). */
export function toFlowRunJson(row: FlowRunRow): Record<string, unknown> {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    flow_id: row.flow_id,
    state_id: row.state_id,
    deployment_id: row.deployment_id,
    work_queue_name: row.work_queue_name,
    flow_version: row.flow_version,
    parameters: row.parameters,
    idempotency_key: row.idempotency_key,
    context: row.context,
    empirical_policy: row.empirical_policy,
    tags: row.tags,
    labels: row.labels,
    parent_task_run_id: row.parent_task_run_id,
    state_type: row.state_type,
    state_name: row.state_name,
    run_count: row.run_count,
    expected_start_time: row.expected_start_time,
    next_scheduled_start_time: row.next_scheduled_start_time,
    start_time: row.start_time,
    end_time: row.end_time,
    total_run_time: row.total_run_time,
    created_by: row.created_by,
    state: row.state ?? null,
  };
}
