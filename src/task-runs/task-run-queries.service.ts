import { Injectable, Logger } from '@nestjs/common';
import { InvalidRequestError, NotFoundError } from '../common/errors/domain.error';
import { Clock } from '../common/time/clock';
import { fromMicros, toMicros } from '../common/time/timestamp';
import { AppConfig } from '../config/app-config';
import { SqlParams } from '../database/sql-params';
import type { OrchestrationState } from '../orchestration/orchestration.types';
import { STATE_TYPES, type StateType } from '../orchestration/states';
import type { TaskRunFiltersDto } from './dto/filters.dto';
import type {
  DashboardCountsDto,
  FilterTaskRunsDto,
  PaginateTaskRunsDto,
  TaskRunHistoryDto,
  TaskRunSort,
} from './dto/task-runs.dto';
import {
  compileTaskRunFilter,
  compileTaskRunWhere,
  isFlowRunIdFastPath,
  orderBy,
  SORT_SQL,
} from './filters/task-run-filter.compiler';
import { stateRowToJson, TaskRunRow, toReducedTaskRunJson, toTaskRunJson } from './task-run.mapper';
import { TaskRunsRepository } from './task-runs.repository';
import type { TaskRunJson } from './task-runs.service';

const TASK_NOT_FOUND = 'Task not found';

/** The longest `flow_runs.id.any_` list read as one index scan per flow run (see `mergeableFlowRuns`). */
const MERGED_FLOW_RUNS_MAX = 16;

/**
 * The distinct flow runs of a `flow_runs.id.any_` filter (nothing else on flows, flow runs or deployments) of at
 * most MERGED_FLOW_RUNS_MAX ids, under a sort by expected start time without a name `like_` (which takes the
 * trigram path): such a list is read one ordered index scan per flow run (`selectMergedByFlowRun`). Else
 * undefined.
 */
export function mergeableFlowRuns(filters: TaskRunFiltersDto, sort: TaskRunSort): string[] | undefined {
  const { flows, flow_runs: flowRuns, deployments } = filters;
  if (
    (sort !== 'EXPECTED_START_TIME_ASC' && sort !== 'EXPECTED_START_TIME_DESC') ||
    flows ||
    deployments ||
    !flowRuns ||
    !isFlowRunIdFastPath(flowRuns) ||
    orderBy(filters, sort) !== SORT_SQL[sort]
  ) {
    return undefined;
  }
  const ids = [...new Set(flowRuns.id!.any_!.map((id) => id.toLowerCase()))];
  return ids.length > 0 && ids.length <= MERGED_FLOW_RUNS_MAX ? ids : undefined;
}

/** Above this many delta rows, `/count` folds a batch itself (see `foldCounts`). */
const FOLD_ON_READ_ROWS = 1000;

/** The compiled WHERE of a filter on the state type alone, one type or several (filter compiler's `anyOf`). */
const STATE_TYPE_ONLY = /^tr\.state_type = (?:\$1::state_type|ANY\(\$1::state_type\[\]\))$/;

/**
 * Whether the maintained counts can answer a count with this compiled WHERE: `null` for every run, the state
 * types for a test of the state type alone, `undefined` otherwise. Decided on the compiled SQL, not on the
 * filter object, so only filters that are this very predicate qualify (whatever their spelling).
 */
export function maintainedCountScope(where: string, p: SqlParams): StateType[] | null | undefined {
  if (where === 'TRUE' && p.values.length === 0) {
    return null;
  }
  if (p.values.length === 1 && STATE_TYPE_ONLY.test(where)) {
    const value = p.values[0] as StateType | StateType[];
    return Array.isArray(value) ? value : [value];
  }
  return undefined;
}

/**
 * Task-run lists and aggregates: /filter, /count, /paginate, /history, task-run states and the UI routes, all
 * compiled to parameterised SQL (filters/task-run-filter.compiler.ts). Limits follow docs/reference.md §0.
 */
@Injectable()
export class TaskRunQueriesService {
  private readonly logger = new Logger(TaskRunQueriesService.name);
  private folding?: Promise<void>;

  constructor(
    private readonly repo: TaskRunsRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /** `GET /ui/task_runs/{id}`: TaskRun plus `flow_run_name`. */
  async readUiTaskRun(id: string): Promise<TaskRunJson> {
    const row = await this.repo.readUi(id);
    if (!row) {
      throw new NotFoundError(TASK_NOT_FOUND);
    }
    return { ...toTaskRunJson(row, this.clock.nowMicros()), flow_run_name: row.flow_run_name ?? null };
  }

  resolveLimit(limit: number | null | undefined): number {
    const max = this.config.api.defaultLimit;
    if (limit == null) {
      return max;
    }
    if (limit < 0) {
      throw new InvalidRequestError('Invalid limit: must be greater than or equal to 0.');
    }
    if (limit > max) {
      throw new InvalidRequestError(`Invalid limit: must be less than or equal to ${max}.`);
    }
    return limit;
  }

  private async selectRuns(
    filters: TaskRunFiltersDto,
    sort: TaskRunSort,
    limit: number,
    offset: number,
  ): Promise<TaskRunRow[]> {
    if (limit === 0) {
      return [];
    }
    const p = new SqlParams();
    const flowRuns = mergeableFlowRuns(filters, sort);
    if (flowRuns) {
      const rest = compileTaskRunFilter(filters.task_runs, p) ?? 'TRUE';
      return this.repo.selectMergedByFlowRun(
        flowRuns.map((id) => p.add(id, 'uuid')),
        rest,
        SORT_SQL[sort],
        p.add(limit, 'bigint'),
        p.add(offset, 'bigint'),
        p,
      );
    }
    const where = compileTaskRunWhere(filters, p);
    const order = orderBy(filters, sort);
    return this.repo.select(where, order, p.add(limit, 'bigint'), p.add(offset, 'bigint'), p);
  }

  async filterTaskRuns(dto: FilterTaskRunsDto): Promise<TaskRunJson[]> {
    const limit = this.resolveLimit(dto.limit);
    const rows = await this.selectRuns(dto, dto.sort ?? 'ID_DESC', limit, dto.offset ?? 0);
    const now = this.clock.nowMicros();
    return rows.map((r) => toTaskRunJson(r, now));
  }

  /**
   * `/task_runs/count`. A filter that compiles to nothing (`{}`, `{task_runs: {}}` …) or to a test of the state
   * type alone is answered from the maintained counts (docs/performance.md, "Queries, second round"): a sum over a
   * few rows instead of a count of the table. Every other filter is counted in SQL.
   */
  async countTaskRuns(filters: TaskRunFiltersDto): Promise<number> {
    const p = new SqlParams();
    const where = compileTaskRunWhere(filters, p);
    const scope = maintainedCountScope(where, p);
    if (scope === undefined) {
      return this.repo.count(where, p);
    }
    const { count, rows } = await this.repo.countFromDeltas(scope);
    if (rows > FOLD_ON_READ_ROWS) {
      this.foldCounts();
    }
    return count;
  }

  /**
   * Folds one batch of count deltas in the background, once at a time: the TaskRunCounts service normally keeps
   * the table short, but this process may not run it (SERVER_RUN_SERVICES=false, or it is disabled).
   */
  private foldCounts(): void {
    if (this.folding) {
      return;
    }
    this.folding = this.repo
      .compactCountDeltas(this.config.taskRunCounts.batchSize, FOLD_ON_READ_ROWS)
      .then(
        () => undefined,
        (err: unknown) =>
          this.logger.warn({
            msg: 'folding task-run count deltas failed',
            error: err instanceof Error ? err.message : String(err),
          }),
      )
      .finally(() => {
        this.folding = undefined;
      });
  }

  async paginateTaskRuns(dto: PaginateTaskRunsDto): Promise<Record<string, unknown>> {
    const limit = this.resolveLimit(dto.limit);
    const page = dto.page ?? 1;
    const [rows, count] = await Promise.all([
      this.selectRuns(dto, dto.sort ?? 'ID_DESC', limit, (page - 1) * limit),
      this.countTaskRuns(dto),
    ]);
    const now = this.clock.nowMicros();
    return {
      results: rows.map((r) => toReducedTaskRunJson(r, now)),
      count,
      limit,
      pages: limit === 0 ? 0 : Math.ceil(count / limit),
      page,
    };
  }

  /** `POST /task_runs/history` (docs/reference.md §2). */
  async history(dto: TaskRunHistoryDto): Promise<Record<string, unknown>[]> {
    if (dto.history_interval_seconds < 1) {
      throw new InvalidRequestError('History interval must not be less than 1 second.');
    }
    const startMicros = toMicros(dto.history_start);
    const stepMicros = Math.round(dto.history_interval_seconds * 1e6);
    const buckets = Math.max(
      0,
      Math.min(500, Math.ceil((toMicros(dto.history_end) - startMicros) / stepMicros)),
    );
    const p = new SqlParams();
    const rows = await this.repo.history(
      p,
      {
        start: p.add(fromMicros(startMicros), 'timestamptz'),
        intervalSeconds: p.add(dto.history_interval_seconds, 'float8'),
        buckets: p.add(buckets, 'int'),
        now: p.add(this.clock.now(), 'timestamptz'),
      },
      compileTaskRunWhere(dto, p),
    );
    const out: Record<string, unknown>[] = [];
    let current:
      { interval_start: string; interval_end: string; states: Record<string, unknown>[] } | undefined;
    for (const r of rows) {
      if (!current || current.interval_start !== r.interval_start) {
        current = { interval_start: r.interval_start, interval_end: r.interval_end, states: [] };
        out.push(current);
      }
      if (r.count_runs > 0) {
        current.states.push({
          state_type: r.state_type,
          state_name: r.state_name,
          count_runs: r.count_runs,
          sum_estimated_run_time: r.sum_estimated_run_time,
          sum_estimated_lateness: r.sum_estimated_lateness,
        });
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- states

  async readStates(taskRunId: string): Promise<OrchestrationState[]> {
    return (await this.repo.readStates(taskRunId)).map(stateRowToJson);
  }

  async readState(id: string): Promise<OrchestrationState> {
    const row = await this.repo.readState(id);
    if (!row) {
      throw new NotFoundError('Flow run state not found');
    }
    return stateRowToJson(row);
  }

  // ---------------------------------------------------------------- UI

  /** `/ui/task_runs/count`: runs per state type, from the maintained counts when the filter allows (countTaskRuns). */
  async countByState(filters: TaskRunFiltersDto): Promise<Record<StateType, number>> {
    const p = new SqlParams();
    const where = compileTaskRunWhere(filters, p);
    const scope = maintainedCountScope(where, p);
    const rows =
      scope === undefined
        ? await this.repo.countByState(where, p)
        : await this.repo.countByStateFromDeltas(scope);
    const counts = Object.fromEntries(STATE_TYPES.map((t) => [t, 0])) as Record<StateType, number>;
    for (const r of rows) {
      if (r.state_type) {
        counts[r.state_type] = r.count;
      }
    }
    return counts;
  }

  /** `POST /ui/task_runs/dashboard/counts`: 20 buckets of completed / failed (FAILED or CRASHED) runs. */
  async dashboardCounts(dto: DashboardCountsDto): Promise<{ completed: number; failed: number }[]> {
    const after = dto.task_runs?.start_time?.after_;
    if (!after) {
      throw new InvalidRequestError('task_runs.start_time.after_ is required');
    }
    const minute = 60_000_000;
    const startMicros = Math.floor(toMicros(after) / minute) * minute;
    const before = dto.task_runs.start_time?.before_;
    const endBase = before ? toMicros(before) : this.clock.nowMicros();
    const endMicros = Math.floor(endBase / minute) * minute + minute - 1;
    const bucketCount = 20;
    const bucketMicros = (endMicros - startMicros) / bucketCount;
    const filters: TaskRunFiltersDto = {
      ...dto,
      task_runs: {
        ...dto.task_runs,
        state: { type: { any_: ['COMPLETED', 'CANCELLED', 'FAILED', 'CRASHED'] } },
      },
    };
    const p = new SqlParams();
    const where = compileTaskRunWhere(filters, p);
    const rows = await this.repo.finishedBuckets(
      p,
      where,
      p.add(fromMicros(startMicros), 'timestamptz'),
      p.add(bucketMicros / 1e6, 'float8'),
    );
    const buckets = Array.from({ length: bucketCount }, () => ({ completed: 0, failed: 0 }));
    for (const r of rows) {
      const i = Math.min(Math.max(r.bucket, 0), bucketCount - 1);
      buckets[i].completed += r.completed;
      buckets[i].failed += r.failed;
    }
    return buckets;
  }
}
