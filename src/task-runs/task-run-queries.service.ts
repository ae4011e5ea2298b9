import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { InvalidRequestError, NotFoundError } from '../common/errors/domain.error';
import { Clock } from '../common/time/clock';
import { fromMicros, toMicros } from '../common/time/timestamp';
import { AppConfig } from '../config/app-config';
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
import { SqlParams } from './filters/sql-params';
import { compileTaskRunWhere, orderBy } from './filters/task-run-filter.compiler';
import {
  stateRowToJson,
  TASK_RUN_FROM,
  TASK_RUN_SELECT,
  TaskRunRow,
  toReducedTaskRunJson,
  toTaskRunJson,
} from './task-run.mapper';
import type { TaskRunJson } from './task-runs.service';

const TASK_NOT_FOUND = 'Task not found';
const TERMINAL_SQL = `('COMPLETED','CANCELLED','FAILED','CRASHED')`;

/** estimated_run_time and estimated_start_time_delta in SQL (seconds), at `now` (param). */
function estimatesSql(now: string): { runTime: string; lateness: string } {
  return {
    runTime: `(extract(epoch FROM tr.total_run_time) + CASE WHEN tr.state_type = 'RUNNING' AND tr.state_timestamp IS NOT NULL
                THEN extract(epoch FROM (${now} - tr.state_timestamp)) ELSE 0 END)`,
    lateness: `CASE WHEN tr.start_time > tr.expected_start_time THEN extract(epoch FROM (tr.start_time - tr.expected_start_time))
                 WHEN tr.start_time IS NULL AND tr.state_type IS NOT NULL AND tr.state_type NOT IN ${TERMINAL_SQL}
                      AND tr.expected_start_time < ${now} THEN extract(epoch FROM (${now} - tr.expected_start_time))
                 ELSE 0 END`,
  };
}

/**
 * Task-run lists and aggregates: /filter, /count, /paginate, /history, task-run states and the UI routes, all
 * compiled to parameterised SQL (filters/task-run-filter.compiler.ts). Limits follow docs/reference.md §0.
 */
@Injectable()
export class TaskRunQueriesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /** `GET /ui/task_runs/{id}`: TaskRun plus `flow_run_name`. */
  async readUiTaskRun(id: string): Promise<TaskRunJson> {
    const [row] = await this.dataSource.query(
      `SELECT ${TASK_RUN_SELECT}, fr.name AS flow_run_name FROM ${TASK_RUN_FROM}
         LEFT JOIN flow_run fr ON fr.id = tr.flow_run_id WHERE tr.id = $1`,
      [id],
    );
    if (!row) throw new NotFoundError(TASK_NOT_FOUND);
    return { ...toTaskRunJson(row, this.clock.nowMicros()), flow_run_name: row.flow_run_name ?? null };
  }

  resolveLimit(limit: number | null | undefined): number {
    const max = this.config.api.defaultLimit;
    if (limit == null) return max;
    if (limit < 0) throw new InvalidRequestError('Invalid limit: must be greater than or equal to 0.');
    if (limit > max) throw new InvalidRequestError(`Invalid limit: must be less than or equal to ${max}.`);
    return limit;
  }

  private async selectRuns(
    filters: TaskRunFiltersDto,
    sort: TaskRunSort,
    limit: number,
    offset: number,
  ): Promise<TaskRunRow[]> {
    if (limit === 0) return [];
    const p = new SqlParams();
    const where = compileTaskRunWhere(filters, p);
    return this.dataSource.query(
      `SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM} WHERE ${where}
        ORDER BY ${orderBy(filters, sort)} LIMIT ${p.add(limit, 'bigint')} OFFSET ${p.add(offset, 'bigint')}`,
      p.values,
    );
  }

  async filterTaskRuns(dto: FilterTaskRunsDto): Promise<TaskRunJson[]> {
    const limit = this.resolveLimit(dto.limit);
    const rows = await this.selectRuns(dto, dto.sort ?? 'ID_DESC', limit, dto.offset ?? 0);
    const now = this.clock.nowMicros();
    return rows.map((r) => toTaskRunJson(r, now));
  }

  async countTaskRuns(filters: TaskRunFiltersDto): Promise<number> {
    const p = new SqlParams();
    const where = compileTaskRunWhere(filters, p);
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS count FROM task_run tr WHERE ${where}`,
      p.values,
    );
    return row.count;
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
    const start = p.add(fromMicros(startMicros), 'timestamptz');
    const interval = `make_interval(secs => ${p.add(dto.history_interval_seconds, 'float8')})`;
    const count = p.add(buckets, 'int');
    const now = p.add(this.clock.now(), 'timestamptz');
    const where = compileTaskRunWhere(dto, p);
    const { runTime, lateness } = estimatesSql(now);
    const rows: Record<string, any>[] = await this.dataSource.query(
      `WITH intervals AS (
         SELECT ${start} + n * ${interval} AS interval_start, ${start} + (n + 1) * ${interval} AS interval_end
           FROM generate_series(0, ${count} - 1) n
       )
       SELECT i.interval_start, i.interval_end, tr.state_type, tr.state_name, count(tr.id)::int AS count_runs,
              coalesce(sum(greatest(0, ${runTime})), 0)::float8 AS sum_estimated_run_time,
              coalesce(sum(greatest(0, ${lateness})), 0)::float8 AS sum_estimated_lateness
         FROM intervals i
         LEFT JOIN task_run tr
           ON tr.expected_start_time >= i.interval_start AND tr.expected_start_time < i.interval_end AND ${where}
        GROUP BY i.interval_start, i.interval_end, tr.state_type, tr.state_name
        ORDER BY i.interval_start, tr.state_type, tr.state_name`,
      p.values,
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
    const rows: TaskRunRow[] = await this.dataSource.query(
      `SELECT s.*, a.data AS artifact_data FROM task_run_state s
         LEFT JOIN artifact a ON a.id = s.result_artifact_id
        WHERE s.task_run_id = $1 ORDER BY s.timestamp ASC`,
      [taskRunId],
    );
    return rows.map(stateRowToJson);
  }

  async readState(id: string): Promise<OrchestrationState> {
    const [row] = await this.dataSource.query(
      `SELECT s.*, a.data AS artifact_data FROM task_run_state s
         LEFT JOIN artifact a ON a.id = s.result_artifact_id WHERE s.id = $1`,
      [id],
    );
    if (!row) throw new NotFoundError('Flow run state not found');
    return stateRowToJson(row);
  }

  // ---------------------------------------------------------------- UI

  async countByState(filters: TaskRunFiltersDto): Promise<Record<StateType, number>> {
    const p = new SqlParams();
    const where = compileTaskRunWhere(filters, p);
    const rows: { state_type: StateType | null; count: number }[] = await this.dataSource.query(
      `SELECT tr.state_type, count(*)::int AS count FROM task_run tr WHERE ${where} GROUP BY tr.state_type`,
      p.values,
    );
    const counts = Object.fromEntries(STATE_TYPES.map((t) => [t, 0])) as Record<StateType, number>;
    for (const r of rows) if (r.state_type) counts[r.state_type] = r.count;
    return counts;
  }

  /** `POST /ui/task_runs/dashboard/counts`: 20 buckets of completed / failed (FAILED or CRASHED) runs. */
  async dashboardCounts(dto: DashboardCountsDto): Promise<{ completed: number; failed: number }[]> {
    const after = dto.task_runs?.start_time?.after_;
    if (!after) throw new InvalidRequestError('task_runs.start_time.after_ is required');
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
    const start = p.add(fromMicros(startMicros), 'timestamptz');
    const width = p.add(bucketMicros / 1e6, 'float8');
    const rows: { bucket: number; completed: number; failed: number }[] = await this.dataSource.query(
      `SELECT floor(extract(epoch FROM (tr.start_time - ${start})) / ${width})::int AS bucket,
              count(*) FILTER (WHERE tr.state_type = 'COMPLETED')::int AS completed,
              count(*) FILTER (WHERE tr.state_type IN ('FAILED','CRASHED'))::int AS failed
         FROM task_run tr WHERE ${where} AND tr.start_time IS NOT NULL
        GROUP BY 1`,
      p.values,
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
