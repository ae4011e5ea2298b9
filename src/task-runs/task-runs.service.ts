import type { TaskRunResponse } from './dto/task-run.response';
import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { ConflictError, NotFoundError, ObjectNotFoundError } from '../common/errors/domain.error';
import { RequestValidationError, ValidationIssue } from '../common/errors/request-validation.error';
import { Clock } from '../common/time/clock';
import { fromMicros, normalizeTimestamp, toMicros } from '../common/time/timestamp';
import { AppConfig } from '../config/app-config';
import { FlowRunsService } from '../flow-runs/flow-runs.service';
import { queryRows } from '../flow-runs/query-rows';
import { generateRunName } from '../common/names/run-name';
import { stateFromCreate } from '../orchestration/dto/state-create.mapper';
import { TaskOrchestrationContext } from '../orchestration/orchestration-context';
import { orchestrate } from '../orchestration/orchestration.engine';
import type {
  OrchestratedRun,
  OrchestrationResult,
  OrchestrationState,
  TaskRunPolicy,
} from '../orchestration/orchestration.types';
import { OrchestrationPolicy, type TransitionRequest } from '../orchestration/policies/orchestration-policy';
import { normalizeTaskRunPolicy } from '../orchestration/state-factory';
import { TaskQueueStore } from '../task-queues/task-queue.store';
import type { CreateTaskRunDto, SetTaskRunStateDto, UpdateTaskRunDto } from './dto/task-runs.dto';
import { SqlParams } from './filters/sql-params';
import { BufferedWritePorts, json, StateTimestampConflict } from './task-run-orchestration.ports';
import {
  applyOrchestratedRun,
  TASK_RUN_FROM,
  TASK_RUN_SELECT,
  TaskRunRow,
  toOrchestratedRun,
  toStateJson,
  toTaskRunJson,
} from './task-run.mapper';

export type TaskRunJson = TaskRunResponse;

const TASK_NOT_FOUND = 'Task not found';

/** Create found the natural key taken: roll the transaction back and answer with the existing run. */
class ExistingTaskRun extends Error {}

/**
 * Task runs: idempotent create, reads, updates, deletes, and state changes through the injected orchestration
 * policy, each in one transaction with the run row locked. Lists and aggregates live in TaskRunQueriesService.
 */
@Injectable()
export class TaskRunsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly policy: OrchestrationPolicy,
    private readonly flowRuns: FlowRunsService,
    @Optional() private readonly taskQueue?: TaskQueueStore,
  ) {}

  // ---------------------------------------------------------------- create / read / update / delete

  /**
   * `POST /task_runs/`: 201 (`created`) for a new run, 200 with the existing run for a known natural key.
   * The initial state is orchestrated in memory first (Minimal, or Background when deferred; a new run has
   * no row to lock), then the run, its state, result artifact and cache rows are written by one statement
   * that inserts nothing when the natural key exists. With an enqueue request it runs in a transaction.
   */
  async createTaskRun(dto: CreateTaskRunDto): Promise<{ taskRun: TaskRunJson; created: boolean }> {
    const policy = this.validateCreate(dto);
    const flowRunId = dto.flow_run_id ?? null;
    const proposed = stateFromCreate(dto.state ?? { type: 'PENDING' }, this.clock.now());
    const run: OrchestratedRun = {
      id: dto.id ?? randomUUID(),
      flowRunId,
      taskKey: dto.task_key,
      tags: dto.tags ?? [],
      empiricalPolicy: policy,
      runCount: 0,
      flowRunRunCount: 0,
      stateId: null,
      stateType: null,
      stateName: null,
      stateTimestamp: null,
      expectedStartTime: null,
      nextScheduledStartTime: null,
      startTime: null,
      endTime: null,
      totalRunTime: 0,
    };
    const request = { force: true, deferred: proposed.state_details.deferred === true };
    const entries = this.policy.entriesFor(null, proposed.type, request);

    /** Orchestrates the initial state and writes everything in one statement; null when the run exists. */
    const attempt = async (em: EntityManager, transaction?: EntityManager): Promise<TaskRunJson | null> => {
      const ports = new BufferedWritePorts(em, this.flowRuns);
      const ctx = new TaskOrchestrationContext({
        run,
        initialState: null,
        proposedState: proposed,
        ports,
        nowMicros: this.clock.nowMicros(),
        settings: { maxCacheKeyLength: this.config.tasks.maxCacheKeyLength },
        transaction,
      });
      await orchestrate(ctx, entries, this.policy.globalTransforms());
      const p = new SqlParams();
      const v = {
        id: p.add(run.id, 'uuid'),
        name: p.add(dto.name || generateRunName(), 'text'),
        flowRunId: p.add(flowRunId, 'uuid'),
        taskKey: p.add(dto.task_key, 'text'),
        dynamicKey: p.add(dto.dynamic_key, 'text'),
      };
      const labels = p.add(JSON.stringify(dto.labels ?? {}), 'jsonb');
      const columns = `${v.id}, ${v.name}, ${v.flowRunId}, ${v.taskKey}, ${v.dynamicKey}, ${p.add(dto.cache_key ?? null, 'text')},
        ${p.add(dto.cache_expiration ? normalizeTimestamp(dto.cache_expiration) : null, 'timestamptz')},
        ${p.add(dto.task_version ?? null, 'text')}, ${p.add(JSON.stringify(policy), 'jsonb')},
        ${p.add(JSON.stringify(dto.task_inputs ?? {}), 'jsonb')}, ${p.add(JSON.stringify(dto.tags ?? []), 'jsonb')},
        ${flowRunId ? `COALESCE((SELECT fr.labels FROM flow_run fr WHERE fr.id = ${v.flowRunId}), '{}'::jsonb) || jsonb_build_object('prefect.flow-run.id', ${v.flowRunId}::text) || ${labels}` : labels},
        ${p.add(run.stateId, 'uuid')}, ${p.add(run.stateType, 'state_type')}, ${p.add(run.stateName, 'text')},
        ${p.add(run.stateTimestamp, 'timestamptz')}, ${p.add(run.runCount, 'int')}, ${p.add(run.flowRunRunCount, 'int')},
        ${p.add(run.expectedStartTime, 'timestamptz')}, ${p.add(run.nextScheduledStartTime, 'timestamptz')},
        ${p.add(run.startTime, 'timestamptz')}, ${p.add(run.endTime, 'timestamptz')},
        make_interval(secs => ${p.add(run.totalRunTime, 'float8')})`;
      const insertRun = `INSERT INTO task_run (id, name, flow_run_id, task_key, dynamic_key, cache_key, cache_expiration,
          task_version, empirical_policy, task_inputs, tags, labels, state_id, state_type, state_name, state_timestamp,
          run_count, flow_run_run_count, expected_start_time, next_scheduled_start_time, start_time, end_time, total_run_time)
        SELECT ${columns}
        ${flowRunId ? '' : `WHERE NOT EXISTS (SELECT 1 FROM task_run x WHERE x.flow_run_id IS NULL AND x.task_key = ${v.taskKey} AND x.dynamic_key = ${v.dynamicKey})`}
        ON CONFLICT (flow_run_id, task_key, dynamic_key) DO NOTHING
        RETURNING *`;
      const ctes = [`r AS (${insertRun})`];
      const written = ports.state;
      if (written?.placement.artifact) {
        const a = written.placement.artifact;
        ctes.push(`a AS (INSERT INTO artifact (key, type, description, data, task_run_id, flow_run_id)
          SELECT ${p.add(a.key, 'text')}, ${p.add(a.type, 'text')}, ${p.add(a.description, 'text')}, ${p.add(json(a.data), 'jsonb')},
                 r.id, r.flow_run_id FROM r RETURNING id)`);
      }
      if (written) {
        const st = written.state;
        ctes.push(`s AS (INSERT INTO task_run_state (id, task_run_id, type, timestamp, name, message, state_details, data, result_artifact_id)
          SELECT ${p.add(st.id, 'uuid')}, r.id, ${p.add(st.type, 'state_type')}, ${p.add(st.timestamp, 'timestamptz')},
                 ${p.add(st.name, 'text')}, ${p.add(st.message, 'text')}, ${p.add(JSON.stringify(st.state_details), 'jsonb')},
                 ${p.add(json(written.placement.inline), 'jsonb')}, ${written.placement.artifact ? '(SELECT id FROM a)' : 'NULL::uuid'}
            FROM r RETURNING id)`);
      }
      if (ports.cacheEntries.length) {
        ctes.push(`c AS (INSERT INTO task_run_state_cache (cache_key, cache_expiration, task_run_state_id)
          SELECT x.cache_key, x.cache_expiration, x.task_run_state_id
            FROM r, jsonb_to_recordset(${p.add(JSON.stringify(ports.cacheEntries), 'jsonb')})
                 AS x(cache_key text, cache_expiration timestamptz, task_run_state_id uuid))`);
      }
      const sql = `WITH ${ctes.join(',\n')} SELECT * FROM r`;
      const [inserted] = await em.query(sql, p.values);
      if (!inserted) return null;
      const taskRun = toTaskRunJson(
        applyOrchestratedRun(inserted, run, ctx.validatedState),
        this.clock.nowMicros(),
      );
      if (ctx.enqueue && this.taskQueue) {
        await this.taskQueue.enqueue(
          em,
          { taskRunId: run.id, taskKey: run.taskKey, snapshot: taskRun },
          ctx.enqueue.queue,
        );
      }
      return taskRun;
    };

    let taskRun: TaskRunJson | null = null;
    if (entries.length === 0) {
      // No rules (Minimal without tag concurrency): nothing needs a transaction, one statement does it all.
      taskRun = await attempt(this.dataSource.manager);
    } else {
      // Rules may write through ctx.transaction (e.g. tag-concurrency slots): one transaction, rolled back
      // when the run turns out to exist, so nothing a rule did applies to someone else's run.
      taskRun = await this.dataSource
        .transaction(async (em) => {
          const created = await attempt(em, em);
          if (!created) throw new ExistingTaskRun();
          return created;
        })
        .catch((err: unknown) => {
          if (err instanceof ExistingTaskRun) return null;
          throw err;
        });
    }
    if (taskRun) return { taskRun, created: true };
    const [existing] = await this.dataSource.query(
      `SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM}
        WHERE ${flowRunId ? 'tr.flow_run_id = $1' : 'tr.flow_run_id IS NULL AND $1::uuid IS NULL'}
          AND tr.task_key = $2 AND tr.dynamic_key = $3 LIMIT 1`,
      [flowRunId, dto.task_key, dto.dynamic_key],
    );
    if (!existing) throw new ConflictError('The task run was deleted while it was being created.');
    return { taskRun: toTaskRunJson(existing, this.clock.nowMicros()), created: false };
  }

  /** The full TaskRun JSON (with its state) for an id; 404 `Task not found`. Also used by background delivery. */
  async readTaskRun(id: string, em: EntityManager = this.dataSource.manager): Promise<TaskRunJson> {
    const [row] = await em.query(`SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM} WHERE tr.id = $1`, [id]);
    if (!row) throw new NotFoundError(TASK_NOT_FOUND);
    return toTaskRunJson(row, this.clock.nowMicros());
  }

  async updateTaskRun(id: string, dto: UpdateTaskRunDto): Promise<void> {
    const sets = ['updated = now()'];
    const params: unknown[] = [id];
    if ('name' in dto && dto.name !== undefined) {
      params.push(dto.name || generateRunName());
      sets.push(`name = $${params.length}`);
    }
    const rows = await queryRows(
      this.dataSource,
      `UPDATE task_run SET ${sets.join(', ')} WHERE id = $1 RETURNING id`,
      params,
    );
    if (!rows.length) throw new NotFoundError('Task run not found');
  }

  async deleteTaskRun(id: string): Promise<void> {
    const rows = await queryRows(this.dataSource, `DELETE FROM task_run WHERE id = $1 RETURNING id`, [id]);
    if (!rows.length) throw new NotFoundError(TASK_NOT_FOUND);
  }

  // ---------------------------------------------------------------- orchestration

  /**
   * `POST /task_runs/{id}/set_state`: the injected policy decides the rules (Core; force → Minimal;
   * deferred → Background). `created` is the 201/200 rule: the returned state is at least as new as the request.
   */
  async setTaskRunState(
    id: string,
    dto: SetTaskRunStateDto,
  ): Promise<{ result: OrchestrationResult; created: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const startedMicros = this.clock.nowMicros();
      const proposed = stateFromCreate(dto.state, fromMicros(startedMicros));
      const request: TransitionRequest = {
        force: dto.force === true,
        deferred: proposed.state_details.deferred === true,
      };
      try {
        const result = await this.dataSource.transaction(async (em) => {
          const [row] = await em.query(
            `SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM} WHERE tr.id = $1 FOR UPDATE OF tr`,
            [id],
          );
          if (!row) throw new ObjectNotFoundError(`Task run with id ${id} not found`);
          return this.orchestrateLocked(em, row, proposed, request);
        });
        const created = result.state != null && toMicros(result.state.timestamp) >= startedMicros;
        return { result, created };
      } catch (err) {
        // Another writer (e.g. the recorder) holds a state at this exact µs: retry once with a new timestamp.
        if (!(err instanceof StateTimestampConflict)) throw err;
        if (attempt > 0) throw new ConflictError(err.message);
      }
    }
  }

  /**
   * Runs the policy on a locked row, then writes the validated state (with its artifact and cache rows) and
   * the run's new fields in one statement, and enqueues when a rule asked for it.
   */
  private async orchestrateLocked(
    em: EntityManager,
    row: TaskRunRow,
    proposed: OrchestrationState,
    request: TransitionRequest,
  ): Promise<OrchestrationResult> {
    const run = toOrchestratedRun(row);
    const initial = toStateJson(row);
    const ports = new BufferedWritePorts(em, this.flowRuns);
    const ctx = new TaskOrchestrationContext({
      run,
      initialState: initial,
      proposedState: proposed,
      ports,
      nowMicros: this.clock.nowMicros(),
      settings: { maxCacheKeyLength: this.config.tasks.maxCacheKeyLength },
      transaction: em,
    });
    const entries = this.policy.entriesFor(initial?.type ?? null, proposed.type, request);
    const before = JSON.stringify(run);
    const result = await orchestrate(ctx, entries, this.policy.globalTransforms());
    const written = ports.state;
    if (!written && !ports.cacheEntries.length && JSON.stringify(run) === before) {
      // Nothing changed (WAIT, ABORT, a null reject): leave the row, and its `updated`, alone.
      return result;
    }
    const p = new SqlParams();
    const runId = p.add(run.id, 'uuid');
    const ctes: string[] = [];
    if (written?.placement.artifact) {
      const a = written.placement.artifact;
      ctes.push(`a AS (INSERT INTO artifact (key, type, description, data, task_run_id, flow_run_id)
        VALUES (${p.add(a.key, 'text')}, ${p.add(a.type, 'text')}, ${p.add(a.description, 'text')},
                ${p.add(json(a.data), 'jsonb')}, ${runId}, ${p.add(run.flowRunId, 'uuid')}) RETURNING id)`);
    }
    if (written) {
      const st = written.state;
      ctes.push(`s AS (INSERT INTO task_run_state (id, task_run_id, type, timestamp, name, message, state_details, data, result_artifact_id)
        VALUES (${p.add(st.id, 'uuid')}, ${runId}, ${p.add(st.type, 'state_type')}, ${p.add(st.timestamp, 'timestamptz')},
                ${p.add(st.name, 'text')}, ${p.add(st.message, 'text')}, ${p.add(JSON.stringify(st.state_details), 'jsonb')},
                ${p.add(json(written.placement.inline), 'jsonb')}, ${written.placement.artifact ? '(SELECT id FROM a)' : 'NULL::uuid'})
        ON CONFLICT DO NOTHING RETURNING id)`);
    }
    if (ports.cacheEntries.length) {
      ctes.push(`c AS (INSERT INTO task_run_state_cache (cache_key, cache_expiration, task_run_state_id)
        SELECT x.cache_key, x.cache_expiration, x.task_run_state_id
          FROM ${written ? 's, ' : ''}jsonb_to_recordset(${p.add(JSON.stringify(ports.cacheEntries), 'jsonb')})
               AS x(cache_key text, cache_expiration timestamptz, task_run_state_id uuid))`);
    }
    ctes.push(`u AS (UPDATE task_run SET state_id = ${p.add(run.stateId, 'uuid')}, state_type = ${p.add(run.stateType, 'state_type')},
        state_name = ${p.add(run.stateName, 'text')}, state_timestamp = ${p.add(run.stateTimestamp, 'timestamptz')},
        run_count = ${p.add(run.runCount, 'int')}, flow_run_run_count = ${p.add(run.flowRunRunCount, 'int')},
        expected_start_time = ${p.add(run.expectedStartTime, 'timestamptz')},
        next_scheduled_start_time = ${p.add(run.nextScheduledStartTime, 'timestamptz')},
        start_time = ${p.add(run.startTime, 'timestamptz')}, end_time = ${p.add(run.endTime, 'timestamptz')},
        total_run_time = make_interval(secs => ${p.add(run.totalRunTime, 'float8')}), updated = now()
      WHERE id = ${runId}${written ? ' AND EXISTS (SELECT 1 FROM s)' : ''} RETURNING updated)`);
    const [out] = await em.query(
      `WITH ${ctes.join(',\n')}
       SELECT (SELECT updated FROM u) AS updated, ${written ? 'EXISTS (SELECT 1 FROM s)' : 'true'} AS written`,
      p.values,
    );
    if (!out.written) throw new StateTimestampConflict();
    if (ctx.enqueue && this.taskQueue) {
      const current = run.stateId === ctx.validatedState?.id ? ctx.validatedState : initial;
      const next = { ...applyOrchestratedRun(row, run, current), updated: out.updated ?? row.updated };
      await this.taskQueue.enqueue(
        em,
        { taskRunId: run.id, taskKey: run.taskKey, snapshot: toTaskRunJson(next, this.clock.nowMicros()) },
        ctx.enqueue.queue,
      );
    }
    return result;
  }

  // ---------------------------------------------------------------- validation

  private validateCreate(dto: CreateTaskRunDto): TaskRunPolicy {
    const issues: ValidationIssue[] = [];
    const max = this.config.tasks.maxCacheKeyLength;
    if (dto.cache_key && dto.cache_key.length > max) {
      issues.push({
        loc: ['body', 'cache_key'],
        msg: `Value error, Cache key exceeded maximum allowed length of ${max} characters.`,
        type: 'value_error',
      });
    }
    const policy = dto.empirical_policy ?? {};
    const loc = (k: string) => ['body', 'empirical_policy', k];
    const intOrNull = (k: string, v: unknown) => {
      if (v != null && !Number.isInteger(v)) {
        issues.push({ loc: loc(k), msg: 'Input should be a valid integer', type: 'int_type', input: v });
      }
    };
    const numOrNull = (k: string, v: unknown) => {
      if (v != null && typeof v !== 'number') {
        issues.push({ loc: loc(k), msg: 'Input should be a valid number', type: 'float_type', input: v });
      }
    };
    intOrNull('max_retries', policy.max_retries);
    numOrNull('retry_delay_seconds', policy.retry_delay_seconds);
    intOrNull('retries', policy.retries);
    numOrNull('retry_jitter_factor', policy.retry_jitter_factor);
    const delay = policy.retry_delay;
    if (Array.isArray(delay)) {
      if (delay.some((d) => typeof d !== 'number')) {
        issues.push({
          loc: loc('retry_delay'),
          msg: 'Input should be a valid number',
          type: 'float_type',
          input: delay,
        });
      } else if (delay.length > 50) {
        issues.push({
          loc: loc('retry_delay'),
          msg: 'Value error, Can not configure more than 50 retry delays per task.',
          type: 'value_error',
        });
      }
    } else numOrNull('retry_delay', delay);
    if (typeof policy.retry_jitter_factor === 'number' && policy.retry_jitter_factor < 0) {
      issues.push({
        loc: loc('retry_jitter_factor'),
        msg: 'Value error, `retry_jitter_factor` must be >= 0.',
        type: 'value_error',
      });
    }
    if (issues.length) throw new RequestValidationError(issues);
    return normalizeTaskRunPolicy(policy);
  }
}
