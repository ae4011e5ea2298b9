import type { OrchestrationState } from '../orchestration/orchestration.types';

/** A `flow` row → Flow JSON. */
export function toFlowJson(row: Record<string, any>): Record<string, unknown> {
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
export function toFlowRunJson(row: Record<string, any>): Record<string, unknown> {
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
    state: (row.state as OrchestrationState | null) ?? null,
  };
}
