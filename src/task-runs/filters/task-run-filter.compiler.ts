import { normalizeTimestamp } from '../../common/time/timestamp';
import { combine, SqlParams } from '../../database/sql-params';
import type {
  DeploymentFilterDto,
  FlowFilterDto,
  FlowRunFilterDto,
  NameAnyLikeFilter,
  TagsAnyFilter,
  TagsFilter,
  TaskRunFilterDto,
  TaskRunFiltersDto,
  TimeRangeFilter,
  TimeRangeNullFilter,
} from '../dto/filters.dto';

/*
 * Compiles the filter objects of docs/reference.md §1.8 to parameterised SQL over the aliases `tr` (task_run),
 * `fr` (flow_run), `f` (flow) and `d` (deployment). Column names are constants; every value is a parameter.
 */

const ts = (p: SqlParams, v: string) => p.add(normalizeTimestamp(v), 'timestamptz');

function nameFilter(col: string, f: NameAnyLikeFilter | null | undefined, p: SqlParams): string | null {
  if (!f) {
    return null;
  }
  return combine([
    f.any_ != null ? `${col} = ANY(${p.add(f.any_, 'text[]')})` : null,
    f.like_ != null ? `${col} ILIKE '%' || ${p.add(f.like_, 'text')} || '%'` : null,
  ]);
}

function tagsFilter(
  col: string,
  f: TagsFilter | TagsAnyFilter | null | undefined,
  p: SqlParams,
): string | null {
  if (!f) {
    return null;
  }
  const any = 'any_' in f ? f.any_ : undefined;
  return combine(
    [
      f.all_ != null && f.all_.length ? `${col} @> ${p.add(JSON.stringify(f.all_), 'jsonb')}` : null,
      any != null ? `${col} ?| ${p.add(any, 'text[]')}` : null,
      f.is_null_ != null ? (f.is_null_ ? `${col} = '[]'::jsonb` : `${col} <> '[]'::jsonb`) : null,
    ],
    f.operator,
  );
}

function timeFilter(
  col: string,
  f: TimeRangeFilter | TimeRangeNullFilter | null | undefined,
  p: SqlParams,
): string | null {
  if (!f) {
    return null;
  }
  const isNull = 'is_null_' in f ? f.is_null_ : undefined;
  return combine([
    f.before_ != null ? `${col} <= ${ts(p, f.before_)}` : null,
    f.after_ != null ? `${col} >= ${ts(p, f.after_)}` : null,
    isNull != null ? (isNull ? `${col} IS NULL` : `${col} IS NOT NULL`) : null,
  ]);
}

function anyOf(col: string, values: unknown[] | null | undefined, cast: string, p: SqlParams): string | null {
  if (values == null) {
    return null;
  }
  // One value: a plain equality, so a (col, sort column) index also gives the order (`= ANY(array)` does not).
  if (values.length === 1 && cast.endsWith('[]')) {
    return `${col} = ${p.add(values[0], cast.slice(0, -2))}`;
  }
  return `${col} = ANY(${p.add(values, cast)})`;
}

function notAnyOf(
  col: string,
  values: unknown[] | null | undefined,
  cast: string,
  p: SqlParams,
): string | null {
  // As SQL `NOT IN`: NULL columns do not match.
  return values != null ? `${col} <> ALL(${p.add(values, cast)})` : null;
}

export function compileTaskRunFilter(f: TaskRunFilterDto | null | undefined, p: SqlParams): string | null {
  if (!f) {
    return null;
  }
  const flowRunId = f.flow_run_id;
  let flowRunIdSql: string | null = null;
  if (flowRunId) {
    if (flowRunId.is_null_ === true) {
      flowRunIdSql = 'tr.flow_run_id IS NULL';
    } else if (flowRunId.is_null_ === false && flowRunId.any_ == null) {
      flowRunIdSql = 'tr.flow_run_id IS NOT NULL';
    } else {
      flowRunIdSql = anyOf('tr.flow_run_id', flowRunId.any_, 'uuid[]', p);
    }
  }
  const state = f.state;
  return combine(
    [
      anyOf('tr.id', f.id?.any_, 'uuid[]', p),
      nameFilter('tr.name', f.name, p),
      tagsFilter('tr.tags', f.tags, p),
      state
        ? combine(
            [
              anyOf('tr.state_type', state.type?.any_, 'state_type[]', p),
              anyOf('tr.state_name', state.name?.any_, 'text[]', p),
            ],
            state.operator,
          )
        : null,
      timeFilter('tr.start_time', f.start_time, p),
      timeFilter('tr.end_time', f.end_time, p),
      timeFilter('tr.expected_start_time', f.expected_start_time, p),
      f.subflow_runs?.exists_ != null
        ? `${f.subflow_runs.exists_ ? '' : 'NOT '}EXISTS (SELECT 1 FROM flow_run sfr WHERE sfr.parent_task_run_id = tr.id)`
        : null,
      flowRunIdSql,
    ],
    f.operator,
  );
}

export function compileFlowRunFilter(f: FlowRunFilterDto | null | undefined, p: SqlParams): string | null {
  if (!f) {
    return null;
  }
  const idNull = (
    col: string,
    x: { any_?: string[] | null; is_null_?: boolean | null; operator?: 'and_' | 'or_' } | null | undefined,
  ) =>
    x
      ? combine(
          [
            anyOf(col, x.any_, 'uuid[]', p),
            x.is_null_ != null ? `${col} IS ${x.is_null_ ? '' : 'NOT '}NULL` : null,
          ],
          x.operator,
        )
      : null;
  const wq = f.work_queue_name;
  const state = f.state;
  const createdBy = f.created_by;
  return combine(
    [
      f.id
        ? combine([anyOf('fr.id', f.id.any_, 'uuid[]', p), notAnyOf('fr.id', f.id.not_any_, 'uuid[]', p)])
        : null,
      nameFilter('fr.name', f.name, p),
      tagsFilter('fr.tags', f.tags, p),
      idNull('fr.deployment_id', f.deployment_id),
      wq
        ? combine(
            [
              anyOf('fr.work_queue_name', wq.any_, 'text[]', p),
              wq.is_null_ != null ? `fr.work_queue_name IS ${wq.is_null_ ? '' : 'NOT '}NULL` : null,
            ],
            wq.operator,
          )
        : null,
      state
        ? combine(
            [
              anyOf('fr.state_type', state.type?.any_, 'state_type[]', p),
              notAnyOf('fr.state_type', state.type?.not_any_, 'state_type[]', p),
              anyOf('fr.state_name', state.name?.any_, 'text[]', p),
              notAnyOf('fr.state_name', state.name?.not_any_, 'text[]', p),
            ],
            state.operator,
          )
        : null,
      anyOf('fr.flow_version', f.flow_version?.any_, 'text[]', p),
      timeFilter('fr.start_time', f.start_time, p),
      timeFilter('fr.end_time', f.end_time, p),
      timeFilter('fr.expected_start_time', f.expected_start_time, p),
      timeFilter('fr.next_scheduled_start_time', f.next_scheduled_start_time, p),
      f.parent_flow_run_id?.any_ != null
        ? `fr.parent_task_run_id IN (SELECT ptr.id FROM task_run ptr WHERE ptr.flow_run_id = ANY(${p.add(f.parent_flow_run_id.any_, 'uuid[]')}))`
        : null,
      idNull('fr.parent_task_run_id', f.parent_task_run_id),
      f.idempotency_key
        ? combine([
            anyOf('fr.idempotency_key', f.idempotency_key.any_, 'text[]', p),
            notAnyOf('fr.idempotency_key', f.idempotency_key.not_any_, 'text[]', p),
          ])
        : null,
      createdBy
        ? combine([
            createdBy.id_ != null ? `(fr.created_by->>'id') = ANY(${p.add(createdBy.id_, 'text[]')})` : null,
            createdBy.type_ != null
              ? `(fr.created_by->>'type') = ANY(${p.add(createdBy.type_, 'text[]')})`
              : null,
            createdBy.is_null_ != null ? `fr.created_by IS ${createdBy.is_null_ ? '' : 'NOT '}NULL` : null,
          ])
        : null,
    ],
    f.operator,
  );
}

export function compileFlowFilter(f: FlowFilterDto | null | undefined, p: SqlParams): string | null {
  if (!f) {
    return null;
  }
  return combine(
    [
      f.id
        ? combine([anyOf('f.id', f.id.any_, 'uuid[]', p), notAnyOf('f.id', f.id.not_any_, 'uuid[]', p)])
        : null,
      f.deployment?.is_null_ != null
        ? `${f.deployment.is_null_ ? 'NOT ' : ''}EXISTS (SELECT 1 FROM deployment fd WHERE fd.flow_id = f.id)`
        : null,
      nameFilter('f.name', f.name, p),
      tagsFilter('f.tags', f.tags, p),
    ],
    f.operator,
  );
}

export function compileDeploymentFilter(
  f: DeploymentFilterDto | null | undefined,
  p: SqlParams,
): string | null {
  if (!f) {
    return null;
  }
  const limit = f.concurrency_limit;
  const like = f.flow_or_deployment_name?.like_;
  return combine(
    [
      f.id
        ? combine([anyOf('d.id', f.id.any_, 'uuid[]', p), notAnyOf('d.id', f.id.not_any_, 'uuid[]', p)])
        : null,
      nameFilter('d.name', f.name, p),
      like != null
        ? (() => {
            const x = p.add(like, 'text');
            return `(d.name ILIKE '%' || ${x} || '%' OR EXISTS (SELECT 1 FROM flow df WHERE df.id = d.flow_id AND df.name ILIKE '%' || ${x} || '%'))`;
          })()
        : null,
      f.paused?.eq_ != null ? `d.paused = ${p.add(f.paused.eq_, 'boolean')}` : null,
      tagsFilter('d.tags', f.tags, p),
      anyOf('d.work_queue_name', f.work_queue_name?.any_, 'text[]', p),
      limit
        ? combine([
            limit.ge_ != null ? `d.concurrency_limit >= ${p.add(limit.ge_, 'int')}` : null,
            limit.le_ != null ? `d.concurrency_limit <= ${p.add(limit.le_, 'int')}` : null,
            limit.is_null_ != null ? `d.concurrency_limit IS ${limit.is_null_ ? '' : 'NOT '}NULL` : null,
          ])
        : null,
    ],
    f.operator,
  );
}

/** A flow-run filter on `id.any_` alone: compiled to `tr.flow_run_id = ANY(…)` without a join. */
export function isFlowRunIdFastPath(f: FlowRunFilterDto): boolean {
  const keys = Object.entries(f)
    .filter(([k, v]) => v != null && k !== 'operator')
    .map(([k]) => k);
  return keys.length === 1 && keys[0] === 'id' && f.id?.any_ != null && f.id.not_any_ == null;
}

/**
 * The WHERE clause for task runs (docs/reference.md §1.8 "How filters are applied"): the task-run filter directly; the
 * `flow_run_id IN (…)` fast path; otherwise any flow / flow-run / deployment filter object (even `{}`) adds
 * an EXISTS over flow_run ⋈ flow ⋈ deployment, which drops flow-less task runs. Returns `TRUE` when empty.
 */
export function compileTaskRunWhere(filters: TaskRunFiltersDto, p: SqlParams): string {
  const parts: (string | null)[] = [compileTaskRunFilter(filters.task_runs, p)];
  const { flows, flow_runs: flowRuns, deployments } = filters;
  if (flowRuns && !flows && !deployments && isFlowRunIdFastPath(flowRuns)) {
    parts.push(`tr.flow_run_id = ANY(${p.add(flowRuns.id!.any_, 'uuid[]')})`);
  } else if (flows || flowRuns || deployments) {
    const joins = [
      flows ? 'JOIN flow f ON f.id = fr.flow_id' : '',
      deployments ? 'JOIN deployment d ON d.id = fr.deployment_id' : '',
    ]
      .filter(Boolean)
      .join(' ');
    const inner = combine([
      'fr.id = tr.flow_run_id',
      compileFlowRunFilter(flowRuns, p),
      compileFlowFilter(flows, p),
      compileDeploymentFilter(deployments, p),
    ]);
    parts.push(`EXISTS (SELECT 1 FROM flow_run fr ${joins} WHERE ${inner})`);
  }
  return combine(parts) ?? 'TRUE';
}

export const SORT_SQL: Record<string, string> = {
  ID_DESC: 'tr.id DESC',
  EXPECTED_START_TIME_ASC: 'tr.expected_start_time ASC',
  EXPECTED_START_TIME_DESC: 'tr.expected_start_time DESC',
  NAME_ASC: 'tr.name ASC',
  NAME_DESC: 'tr.name DESC',
  NEXT_SCHEDULED_START_TIME_ASC: 'tr.next_scheduled_start_time ASC',
  END_TIME_DESC: 'tr.end_time DESC',
};

/**
 * The same orders as SORT_SQL, as expressions no btree index provides. Used when a name `like_` filter can
 * use the trigram index: otherwise the planner tends to walk a sort index and test ILIKE on most of the
 * table (seconds at 1M rows) instead of taking the few trigram matches and sorting them.
 */
export const SORT_SQL_UNINDEXED: Record<string, string> = {
  ID_DESC: `(tr.id::text COLLATE "C") DESC`,
  EXPECTED_START_TIME_ASC: `(tr.expected_start_time + interval '0') ASC`,
  EXPECTED_START_TIME_DESC: `(tr.expected_start_time + interval '0') DESC`,
  NAME_ASC: `(tr.name || '') ASC`,
  NAME_DESC: `(tr.name || '') DESC`,
  NEXT_SCHEDULED_START_TIME_ASC: `(tr.next_scheduled_start_time + interval '0') ASC`,
  END_TIME_DESC: `(tr.end_time + interval '0') DESC`,
};

/** The ORDER BY for `sort` under `filters` (see SORT_SQL_UNINDEXED). */
export function orderBy(filters: TaskRunFiltersDto, sort: string): string {
  const like = filters.task_runs?.name?.like_;
  return like != null && like.length >= 3 ? SORT_SQL_UNINDEXED[sort] : SORT_SQL[sort];
}
