import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { isStatementCheckFailure } from '../common/errors/db-errors';
import type { Timestamp } from '../common/time/timestamp';
import { preparedQuery } from '../database/prepared-query';
import { SqlParams } from '../database/sql-params';
import { queryRows } from '../flow-runs/query-rows';
import type {
  OrchestratedRun,
  OrchestrationState,
  TaskRunPolicy,
} from '../orchestration/orchestration.types';
import type { StateType } from '../orchestration/states';
import { RestorableTaskRun, TaskRunSnapshots } from '../task-queues/task-run-snapshots.port';
import { json, ResultPlacement, StateTimestampConflict } from './task-run-orchestration.ports';
import {
  stateRowToJson,
  TASK_RUN_FROM,
  TASK_RUN_SELECT,
  TaskRunRow,
  TaskRunStateRow,
  toTaskRunJson,
} from './task-run.mapper';

/** A validated state to write, with where its result goes. */
export interface StateWrite {
  state: OrchestrationState;
  placement: ResultPlacement;
}

export interface CacheEntryWrite {
  cache_key: string;
  cache_expiration: Timestamp | null;
  task_run_state_id: string;
}

/** A new run as `POST /task_runs/` writes it: the orchestrated run, its columns, its initial state. */
export interface RunInsert {
  run: OrchestratedRun;
  name: string;
  dynamicKey: string;
  cacheKey: string | null;
  cacheExpiration: Timestamp | null;
  taskVersion: string | null;
  policy: TaskRunPolicy;
  taskInputs: unknown;
  labels: Record<string, unknown>;
  state: StateWrite | null;
  /** Id for the result artifact of `state`, when it has one. */
  artifactId: string | null;
  cacheEntries: CacheEntryWrite[];
}

/** An orchestrated state change of a locked run: its new fields, its new state (if any), cache rows. */
export interface TransitionWrite {
  run: OrchestratedRun;
  state: StateWrite | null;
  artifactId: string | null;
  cacheEntries: CacheEntryWrite[];
}

export interface NaturalKey {
  flow_run_id: string | null;
  task_key: string;
  dynamic_key: string;
}

/** The upserted-run shape the recorder's plan produces (see bulk/task-run-bulk.plan.ts). */
export interface ExistingRunKey {
  id: string;
  flow_run_id: string | null;
  task_key: string;
  dynamic_key: string;
  state_timestamp: string | null;
}

/** pg's client in pipeline mode (pg ≥ 8.16): queries are written without waiting for the previous answer. */
type PipelineClient = PoolClient & { pipeline: boolean };

/** Given to `TaskRunsRepository.transaction`'s callback. */
export interface PipelinedTransaction {
  /**
   * Sends COMMIT now, behind the statements already sent, in the same round trip. After it the callback must not
   * fail for any reason but those statements' own errors (a failed statement turns the COMMIT into a ROLLBACK;
   * anything else would be committed): the checks that must roll back belong in the SQL.
   */
  commitBehind(): void;
}

/** What this file uses of TypeORM's PostgresQueryRunner (some of it protected or read-only in its typings). */
interface PgQueryRunner {
  manager: EntityManager;
  databaseConnection?: PoolClient;
  isTransactionActive: boolean;
  connect(): Promise<PoolClient>;
  release(): Promise<void>;
  /** Gives the connection back to the pool with an error: the pool destroys it. */
  releasePostgresConnection(err?: unknown): Promise<void>;
}

/**
 * Waits for every promise (so no query is still running on the transaction's connection when the caller moves
 * on or rolls back), then answers their values in order or throws the first error.
 */
export async function settleAll<T extends readonly unknown[]>(
  promises: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const settled = await Promise.allSettled(promises as readonly Promise<unknown>[]);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    throw failed.reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * A CTE `chk` that fails the whole statement (division by zero, SQLSTATE 22012) unless the data-modifying CTE
 * `cte` wrote exactly `$param` rows. The check is in the SQL so that a COMMIT already sent behind the statement
 * (`PipelinedTransaction.commitBehind`) turns into a ROLLBACK. Callers select `FROM chk LEFT JOIN …` with
 * `WHERE chk.ok = 1`, so `chk` is evaluated whatever the plan, and drop the null row of an empty result.
 */
const allOrNothing = (cte: string, param: number): string =>
  `chk AS MATERIALIZED (SELECT 1 / (CASE WHEN (SELECT count(*) FROM ${cte}) = $${param}::int THEN 1 ELSE 0 END) AS ok)`;

/** Maps the `allOrNothing` check's failure of a statement to `error()`; other errors pass through. */
async function failIfIncomplete<T>(statement: Promise<T>, error: () => Error): Promise<T> {
  try {
    return await statement;
  } catch (err) {
    if (isStatementCheckFailure(err)) {
      throw error();
    }
    throw err;
  }
}

/** `insertRuns` met a natural key that exists: nothing of the statement was written. */
export class RunsAlreadyExist extends Error {
  constructor() {
    super('A task run with one of these natural keys already exists.');
    this.name = 'RunsAlreadyExist';
  }
}

/** The columns `insertRuns` answers (named: a prepared statement must not change its result type). */
const INSERTED_COLUMNS = `id, created, updated, name, flow_run_id, task_key, dynamic_key, cache_key, cache_expiration,
  task_version, flow_run_run_count, run_count, empirical_policy, task_inputs, tags, labels, state_id, state_type,
  state_name, state_timestamp, expected_start_time, next_scheduled_start_time, start_time, end_time, total_run_time`;

const TERMINAL_SQL = `('COMPLETED','CANCELLED','FAILED','CRASHED')`;

export interface HistoryRow {
  interval_start: string;
  interval_end: string;
  state_type: StateType | null;
  state_name: string | null;
  count_runs: number;
  sum_estimated_run_time: number;
  sum_estimated_lateness: number;
}

/** The recorder's state rows (`insertEventStates`): one count back, not a row per state. */
const RECORDER_STATES_SQL = `WITH ins AS (
  INSERT INTO task_run_state (id, task_run_id, type, timestamp, name, message, state_details, data, created, updated)
  SELECT id, task_run_id, type, timestamp, name, message, state_details, data, now(), now()
    FROM unnest($1::uuid[], $2::uuid[], $3::state_type[], $4::timestamptz[], $5::text[], $6::text[],
                $7::jsonb[], $8::jsonb[])
         WITH ORDINALITY AS v(id, task_run_id, type, timestamp, name, message, state_details, data, ord)
   ORDER BY ord
  ON CONFLICT (id) DO NOTHING
  RETURNING 1
) SELECT count(*)::int AS n FROM ins`;

const STATE_COLUMNS = `id uuid, task_run_id uuid, type state_type, timestamp timestamptz, name text, message text,
  state_details jsonb, data jsonb, result_artifact_id uuid`;
const ARTIFACT_COLUMNS = `id uuid, key text, type text, description text, data jsonb, task_run_id uuid, flow_run_id uuid`;
const CACHE_COLUMNS = `cache_key text, cache_expiration timestamptz, task_run_state_id uuid, task_run_id uuid`;

/** The run fields orchestration owns, as one JSON record per run (jsonb_to_recordset). */
function runFields(run: OrchestratedRun): Record<string, unknown> {
  return {
    id: run.id,
    state_id: run.stateId,
    state_type: run.stateType,
    state_name: run.stateName,
    state_timestamp: run.stateTimestamp,
    run_count: run.runCount,
    flow_run_run_count: run.flowRunRunCount,
    expected_start_time: run.expectedStartTime,
    next_scheduled_start_time: run.nextScheduledStartTime,
    start_time: run.startTime,
    end_time: run.endTime,
    total_run_time: run.totalRunTime,
  };
}
const RUN_FIELD_COLUMNS = `id uuid, state_id uuid, state_type state_type, state_name text, state_timestamp timestamptz,
  run_count int, flow_run_run_count int, expected_start_time timestamptz, next_scheduled_start_time timestamptz,
  start_time timestamptz, end_time timestamptz, total_run_time float8`;

function stateRecord(runId: string, w: StateWrite, artifactId: string | null): Record<string, unknown> {
  const st = w.state;
  return {
    id: st.id,
    task_run_id: runId,
    type: st.type,
    timestamp: st.timestamp,
    name: st.name,
    message: st.message,
    state_details: st.state_details,
    data: w.placement.inline ?? null,
    result_artifact_id: artifactId,
  };
}

function artifactRecord(
  runId: string,
  flowRunId: string | null,
  w: StateWrite,
  artifactId: string,
): Record<string, unknown> {
  const a = w.placement.artifact!;
  return {
    id: artifactId,
    key: a.key ?? null,
    type: a.type ?? null,
    description: a.description ?? null,
    data: a.data ?? null,
    task_run_id: runId,
    flow_run_id: flowRunId,
  };
}

/**
 * The persistence seam of task runs: every statement on `task_run`, `task_run_state`, `artifact` and
 * `task_run_state_cache` lives here (services orchestrate, this persists). Writes are set-based (one statement for
 * a whole group of runs, rows passed as JSON record sets) so group commit and the recorder's batches cost one
 * round trip per statement, not per run. Reads return the one `TaskRunRow` type; `toTaskRunJson` renders it.
 * Built on TypeORM's DataSource/EntityManager (transactions are the caller's `EntityManager`); the SQL is raw
 * where the query builders would cost speed. See docs/performance.md.
 */
@Injectable()
export class TaskRunsRepository extends TaskRunSnapshots {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  /**
   * Runs `fn` in one transaction on one pooled connection, in pg's pipeline mode: BEGIN goes out with the first
   * statement instead of costing its own round trip, statements issued together (see `settleAll`) share one, and
   * `fn` may send COMMIT right behind its last statement (`tx.commitBehind()`). Otherwise COMMIT after `fn`;
   * ROLLBACK on any error (then rethrown); a connection that fails either is destroyed, never reused. `fn` must
   * not leave a query running when it settles (issue concurrent queries through `settleAll`).
   */
  async transaction<T>(fn: (em: EntityManager, tx: PipelinedTransaction) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner() as unknown as PgQueryRunner;
    const client = (await runner.connect()) as PipelineClient;
    let broken: unknown = null;
    let commit: Promise<{ command: string }> | null = null;
    const sendCommit = (): Promise<{ command: string }> => {
      const sent = client.query('COMMIT').catch((err: unknown) => {
        broken = err;
        throw err;
      });
      sent.catch(() => undefined); // awaited below; never an unhandled rejection
      return sent;
    };
    client.pipeline = true;
    runner.isTransactionActive = true;
    const begun = client.query('BEGIN').then(
      () => null,
      (err: unknown) => err ?? new Error('BEGIN failed'),
    );
    try {
      const result = await fn(runner.manager, {
        commitBehind: () => {
          commit ??= sendCommit();
        },
      });
      const beginError = await begun;
      if (beginError) {
        throw beginError;
      }
      const committed = await (commit ?? sendCommit());
      // A COMMIT sent behind a statement that failed answers ROLLBACK; `fn` then rejected with that failure.
      if (committed.command !== 'COMMIT') {
        throw new Error(`transaction ended with ${committed.command}`);
      }
      return result;
    } catch (err) {
      await begun;
      if (commit) {
        await (commit as Promise<unknown>).catch(() => undefined);
      } else if (!broken) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError;
        });
      }
      throw err;
    } finally {
      runner.isTransactionActive = false;
      // Every statement of the transaction has answered (COMMIT/ROLLBACK answer last): the client is idle.
      client.pipeline = false;
      if (broken) {
        await runner.releasePostgresConnection(broken);
      } else {
        await runner.release();
      }
    }
  }

  // ---------------------------------------------------------------- reads of one run

  async findById(id: string, em: EntityManager = this.manager): Promise<TaskRunRow | undefined> {
    const [row] = await em.query<(TaskRunRow | undefined)[]>(
      `SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM} WHERE tr.id = $1`,
      [id],
    );
    return row;
  }

  /**
   * The runs with these ids, locked FOR UPDATE in id order (a fixed lock order: concurrent groups never
   * deadlock). Two statements on purpose: a SELECT … FOR UPDATE that waited for another writer's commit sees the
   * run's new version but not the new state row it joins (the statement's snapshot predates it), so the row is
   * read again once it is locked.
   */
  async lockByIds(em: EntityManager, ids: readonly string[]): Promise<TaskRunRow[]> {
    const sorted = [...ids].sort();
    // Sent together (one round trip on a pipelined connection): PostgreSQL runs the second statement, with its
    // own snapshot, only once the first holds its locks.
    const [, rows] = await settleAll<[unknown, TaskRunRow[]]>([
      preparedQuery(
        em,
        'tr_lock_ids',
        `SELECT id FROM task_run WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
        [sorted],
      ),
      preparedQuery<TaskRunRow>(
        em,
        'tr_read_ids',
        `SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM} WHERE tr.id = ANY($1::uuid[])`,
        [sorted],
      ),
    ]);
    return rows;
  }

  /** The runs that hold these natural keys (a NULL flow run matches a NULL flow run, as create's idempotency). */
  async findByNaturalKeys(em: EntityManager, keys: readonly NaturalKey[]): Promise<TaskRunRow[]> {
    if (!keys.length) {
      return [];
    }
    const withFlow = keys.filter((k) => k.flow_run_id != null);
    const without = keys.filter((k) => k.flow_run_id == null);
    const parts: string[] = [];
    const params: unknown[] = [];
    if (withFlow.length) {
      params.push(
        withFlow.map((k) => k.flow_run_id),
        withFlow.map((k) => k.task_key),
        withFlow.map((k) => k.dynamic_key),
      );
      parts.push(`SELECT ${TASK_RUN_SELECT} FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(f, t, d)
        JOIN ${TASK_RUN_FROM} ON tr.flow_run_id = k.f AND tr.task_key = k.t AND tr.dynamic_key = k.d`);
    }
    if (without.length) {
      const n = params.length;
      params.push(
        without.map((k) => k.task_key),
        without.map((k) => k.dynamic_key),
      );
      parts.push(`SELECT ${TASK_RUN_SELECT} FROM unnest($${n + 1}::text[], $${n + 2}::text[]) AS k(t, d)
        JOIN ${TASK_RUN_FROM} ON tr.flow_run_id IS NULL AND tr.task_key = k.t AND tr.dynamic_key = k.d`);
    }
    return em.query(parts.join(' UNION ALL '), params);
  }

  // ---------------------------------------------------------------- writes of the API

  /**
   * No unique index covers a run without a flow run (NULLs are distinct), so two transactions could both pass
   * `insertRuns`' NOT EXISTS for the same (task_key, dynamic_key). A transaction-scoped advisory lock per such
   * key, taken in one sorted order (no deadlock between groups) before `insertRuns`, makes the second wait for the
   * first to commit; its INSERT then runs on a fresh snapshot (READ COMMITTED), sees the row and skips it, and the
   * caller answers 200.
   */
  async lockKeysWithoutFlowRun(
    em: EntityManager,
    keys: readonly { flowRunId: string | null; taskKey: string; dynamicKey: string }[],
  ): Promise<void> {
    const sorted = [
      ...new Set(keys.filter((k) => !k.flowRunId).map((k) => `${k.taskKey}\u001f${k.dynamicKey}`)),
    ].sort();
    if (sorted.length === 0) {
      return;
    }
    await preparedQuery(
      em,
      'tr_lock_natural_keys',
      `SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS u(k)`,
      [sorted],
    );
  }

  /**
   * Inserts new runs with their initial state, result artifact and cache rows in one statement. A run whose
   * natural key exists is skipped (`ON CONFLICT DO NOTHING`, and for runs without a flow run, which no unique
   * index covers, one index probe per row: a LATERAL … LIMIT 1 on the natural-key index; the `NOT EXISTS` it
   * replaces was planned as a hashed sub-plan that read every run without a flow run on every call);
   * all or nothing: when a key is skipped the statement fails (`RunsAlreadyExist`) and writes nothing, so a COMMIT
   * sent behind it rolls back. Returns the rows inserted (without their state columns: the caller knows the state
   * it wrote).
   */
  async insertRuns(em: EntityManager, inserts: readonly RunInsert[]): Promise<TaskRunRow[]> {
    // Object.assign onto runFields' fresh record, not a spread of it (a slow path of V8: see applyOrchestratedRun).
    const runs = inserts.map((i) =>
      Object.assign(runFields(i.run), {
        name: i.name,
        flow_run_id: i.run.flowRunId,
        task_key: i.run.taskKey,
        dynamic_key: i.dynamicKey,
        cache_key: i.cacheKey,
        cache_expiration: i.cacheExpiration,
        task_version: i.taskVersion,
        empirical_policy: i.policy,
        task_inputs: i.taskInputs ?? {},
        tags: i.run.tags,
        labels: i.labels,
      }),
    );
    const artifacts = inserts
      .filter((i) => i.state?.placement.artifact && i.artifactId)
      .map((i) => artifactRecord(i.run.id, i.run.flowRunId, i.state!, i.artifactId!));
    const states = inserts.filter((i) => i.state).map((i) => stateRecord(i.run.id, i.state!, i.artifactId));
    const cache = inserts.flatMap((i) => i.cacheEntries.map((c) => ({ ...c, task_run_id: i.run.id })));
    const ctes = [
      `r AS (INSERT INTO task_run (id, name, flow_run_id, task_key, dynamic_key, cache_key, cache_expiration,
          task_version, empirical_policy, task_inputs, tags, labels, state_id, state_type, state_name, state_timestamp,
          run_count, flow_run_run_count, expected_start_time, next_scheduled_start_time, start_time, end_time, total_run_time)
        SELECT x.id, x.name, x.flow_run_id, x.task_key, x.dynamic_key, x.cache_key, x.cache_expiration, x.task_version,
               x.empirical_policy, x.task_inputs, x.tags,
               CASE WHEN x.flow_run_id IS NULL THEN x.labels
                    ELSE COALESCE((SELECT fr.labels FROM flow_run fr WHERE fr.id = x.flow_run_id), '{}'::jsonb)
                         || jsonb_build_object('prefect.flow-run.id', x.flow_run_id::text) || x.labels END,
               x.state_id, x.state_type, x.state_name, x.state_timestamp, x.run_count, x.flow_run_run_count,
               x.expected_start_time, x.next_scheduled_start_time, x.start_time, x.end_time,
               make_interval(secs => x.total_run_time)
          FROM jsonb_to_recordset($1::jsonb) AS x(${RUN_FIELD_COLUMNS}, name text, flow_run_id uuid, task_key text,
               dynamic_key text, cache_key text, cache_expiration timestamptz, task_version text,
               empirical_policy jsonb, task_inputs jsonb, tags jsonb, labels jsonb)
          LEFT JOIN LATERAL (SELECT true AS taken FROM task_run e
                 WHERE x.flow_run_id IS NULL AND e.flow_run_id IS NULL AND e.task_key = x.task_key
                   AND e.dynamic_key = x.dynamic_key LIMIT 1) t ON true
         WHERE t.taken IS NULL
         ORDER BY x.flow_run_id, x.task_key, x.dynamic_key
        ON CONFLICT (flow_run_id, task_key, dynamic_key) DO NOTHING
        RETURNING ${INSERTED_COLUMNS})`,
    ];
    const params: unknown[] = [JSON.stringify(runs)];
    if (artifacts.length) {
      params.push(JSON.stringify(artifacts));
      ctes.push(`a AS (INSERT INTO artifact (id, key, type, description, data, task_run_id, flow_run_id)
        SELECT y.id, y.key, y.type, y.description, y.data, r.id, r.flow_run_id
          FROM jsonb_to_recordset($${params.length}::jsonb) AS y(${ARTIFACT_COLUMNS}) JOIN r ON r.id = y.task_run_id)`);
    }
    if (states.length) {
      params.push(JSON.stringify(states));
      ctes.push(`s AS (INSERT INTO task_run_state (id, task_run_id, type, timestamp, name, message, state_details, data,
          result_artifact_id)
        SELECT z.id, r.id, z.type, z.timestamp, z.name, z.message, z.state_details, z.data, z.result_artifact_id
          FROM jsonb_to_recordset($${params.length}::jsonb) AS z(${STATE_COLUMNS}) JOIN r ON r.id = z.task_run_id)`);
    }
    if (cache.length) {
      params.push(JSON.stringify(cache));
      ctes.push(`c AS (INSERT INTO task_run_state_cache (cache_key, cache_expiration, task_run_state_id)
        SELECT w.cache_key, w.cache_expiration, w.task_run_state_id
          FROM jsonb_to_recordset($${params.length}::jsonb) AS w(${CACHE_COLUMNS}) JOIN r ON r.id = w.task_run_id)`);
    }
    params.push(runs.length);
    ctes.push(allOrNothing('r', params.length));
    const variant = `${artifacts.length ? 'a' : ''}${states.length ? 's' : ''}${cache.length ? 'c' : ''}`;
    const rows = await failIfIncomplete(
      preparedQuery<TaskRunRow & { ok: number }>(
        em,
        `tr_insert_runs_${variant}`,
        `WITH ${ctes.join(',\n')} SELECT chk.ok, r.* FROM chk LEFT JOIN r ON true WHERE chk.ok = 1`,
        params,
      ),
      () => new RunsAlreadyExist(),
    );
    return rows.filter((r) => r.id != null);
  }

  /**
   * Writes the orchestrated state changes of locked runs set-based: result artifacts, states
   * (`ON CONFLICT DO NOTHING`), cache rows, then the runs' new fields. Returns each run's new `updated`.
   * Throws StateTimestampConflict when a run already had a state at the proposed timestamp (another writer,
   * e.g. the recorder, got there first); the caller's transaction then rolls back.
   */
  async writeTransitions(
    em: EntityManager,
    writes: readonly TransitionWrite[],
  ): Promise<Map<string, string>> {
    const artifacts = writes
      .filter((w) => w.state?.placement.artifact && w.artifactId)
      .map((w) => artifactRecord(w.run.id, w.run.flowRunId, w.state!, w.artifactId!));
    const states = writes.filter((w) => w.state).map((w) => stateRecord(w.run.id, w.state!, w.artifactId));
    const cache = writes.flatMap((w) => w.cacheEntries.map((c) => ({ ...c, task_run_id: w.run.id })));
    const params: unknown[] = [JSON.stringify(writes.map((w) => runFields(w.run)))];
    const ctes: string[] = [];
    if (artifacts.length) {
      params.push(JSON.stringify(artifacts));
      ctes.push(`a AS (INSERT INTO artifact (id, key, type, description, data, task_run_id, flow_run_id)
        SELECT y.id, y.key, y.type, y.description, y.data, y.task_run_id, y.flow_run_id
          FROM jsonb_to_recordset($${params.length}::jsonb) AS y(${ARTIFACT_COLUMNS}))`);
    }
    if (states.length) {
      params.push(JSON.stringify(states));
      ctes.push(`s AS (INSERT INTO task_run_state (id, task_run_id, type, timestamp, name, message, state_details, data,
          result_artifact_id)
        SELECT z.id, z.task_run_id, z.type, z.timestamp, z.name, z.message, z.state_details, z.data, z.result_artifact_id
          FROM jsonb_to_recordset($${params.length}::jsonb) AS z(${STATE_COLUMNS}) ORDER BY z.task_run_id
        ON CONFLICT DO NOTHING RETURNING id)`);
    }
    if (cache.length) {
      params.push(JSON.stringify(cache));
      ctes.push(`c AS (INSERT INTO task_run_state_cache (cache_key, cache_expiration, task_run_state_id)
        SELECT w.cache_key, w.cache_expiration, w.task_run_state_id
          FROM jsonb_to_recordset($${params.length}::jsonb) AS w(${CACHE_COLUMNS}))`);
    }
    ctes.push(`u AS (UPDATE task_run t SET state_id = x.state_id, state_type = x.state_type, state_name = x.state_name,
        state_timestamp = x.state_timestamp, run_count = x.run_count, flow_run_run_count = x.flow_run_run_count,
        expected_start_time = x.expected_start_time, next_scheduled_start_time = x.next_scheduled_start_time,
        start_time = x.start_time, end_time = x.end_time, total_run_time = make_interval(secs => x.total_run_time),
        updated = now()
      FROM jsonb_to_recordset($1::jsonb) AS x(${RUN_FIELD_COLUMNS}) WHERE t.id = x.id RETURNING t.id, t.updated)`);
    if (states.length) {
      params.push(states.length);
      ctes.push(allOrNothing('s', params.length));
    }
    const variant = `${artifacts.length ? 'a' : ''}${states.length ? 's' : ''}${cache.length ? 'c' : ''}`;
    const rows = await failIfIncomplete(
      preparedQuery<{ id: string | null; updated: string }>(
        em,
        `tr_write_transitions_${variant}`,
        states.length
          ? `WITH ${ctes.join(',\n')} SELECT chk.ok, u.id, u.updated FROM chk LEFT JOIN u ON true WHERE chk.ok = 1`
          : `WITH ${ctes.join(',\n')} SELECT u.id, u.updated FROM u`,
        params,
      ),
      () => new StateTimestampConflict(),
    );
    return new Map(rows.filter((r) => r.id != null).map((r) => [r.id!, r.updated]));
  }

  /** Renames a run (`PATCH`); false when it does not exist. */
  async rename(id: string, name: string | undefined): Promise<boolean> {
    const params: unknown[] = [id];
    let set = 'updated = now()';
    if (name !== undefined) {
      params.push(name);
      set += ', name = $2';
    }
    const rows = await queryRows(
      this.manager,
      `UPDATE task_run SET ${set} WHERE id = $1 RETURNING id`,
      params,
    );
    return rows.length > 0;
  }

  async delete(id: string): Promise<boolean> {
    const rows = await queryRows(this.manager, `DELETE FROM task_run WHERE id = $1 RETURNING id`, [id]);
    return rows.length > 0;
  }

  /** The newest cached state for a key whose expiration is null or after `now` (with its data). */
  async findCachedState(
    em: EntityManager,
    cacheKey: string,
    now: Timestamp,
  ): Promise<OrchestrationState | null> {
    const [row] = await em.query<(TaskRunStateRow | undefined)[]>(
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

  // ---------------------------------------------------------------- lists and aggregates (filters compiled by the caller)

  async readUi(id: string): Promise<(TaskRunRow & { flow_run_name: string | null }) | undefined> {
    const [row] = await this.manager.query<((TaskRunRow & { flow_run_name: string | null }) | undefined)[]>(
      `SELECT ${TASK_RUN_SELECT}, fr.name AS flow_run_name FROM ${TASK_RUN_FROM}
         LEFT JOIN flow_run fr ON fr.id = tr.flow_run_id WHERE tr.id = $1`,
      [id],
    );
    return row;
  }

  /** Runs matching a compiled WHERE (over `tr`), ordered, with LIMIT/OFFSET already in `p`. */
  select(where: string, orderBy: string, limit: string, offset: string, p: SqlParams): Promise<TaskRunRow[]> {
    return this.manager.query(
      `SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM} WHERE ${where}
        ORDER BY ${orderBy} LIMIT ${limit} OFFSET ${offset}`,
      p.values,
    );
  }

  /**
   * `select` for runs of a few flow runs (`flowRuns`: one placeholder each, distinct) in an order the
   * `(flow_run_id, expected_start_time)` index gives: one ordered, limited index scan per flow run, merged
   * (Merge Append) instead of a walk of the whole time index that filters on `flow_run_id = ANY(…)`
   * (docs/performance.md, "Queries"). `where` (over `tr`) is the rest of the filter.
   */
  selectMergedByFlowRun(
    flowRuns: readonly string[],
    where: string,
    orderBy: string,
    limit: string,
    offset: string,
    p: SqlParams,
  ): Promise<TaskRunRow[]> {
    const branches = flowRuns.map(
      (id) => `(SELECT tr.* FROM task_run tr WHERE tr.flow_run_id = ${id} AND ${where}
         ORDER BY ${orderBy} LIMIT ${limit} + ${offset})`,
    );
    return this.manager.query(
      `SELECT ${TASK_RUN_SELECT} FROM (${branches.join(' UNION ALL ')}) tr
         LEFT JOIN task_run_state s ON s.id = tr.state_id
         LEFT JOIN artifact a ON a.id = s.result_artifact_id
        ORDER BY ${orderBy} LIMIT ${limit} OFFSET ${offset}`,
      p.values,
    );
  }

  async count(where: string, p: SqlParams): Promise<number> {
    const [row] = await this.manager.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM task_run tr WHERE ${where}`,
      p.values,
    );
    return row.count;
  }

  /**
   * The maintained count (docs/performance.md, "Queries, second round"): the runs this snapshot sees, of these state
   * types (all runs when null), as the sum of `task_run_count_delta`; `rows` is how many delta rows it summed.
   * Exact: every delta row commits with the run changes it counts.
   */
  async countFromDeltas(stateTypes: readonly StateType[] | null): Promise<{ count: number; rows: number }> {
    const [row] = await this.manager.query<{ count: string; rows: number }[]>(
      `SELECT coalesce(sum(delta), 0)::bigint AS count, count(*)::int AS rows FROM task_run_count_delta
        ${stateTypes ? 'WHERE state_type = ANY($1::state_type[])' : ''}`,
      stateTypes ? [stateTypes] : [],
    );
    return { count: Number(row.count), rows: row.rows };
  }

  /**
   * Folds the oldest `batchSize` delta rows into one row per state type, in one statement (so one short
   * transaction; readers see the rows before or after, never both). Rows of uncommitted writers are not visible
   * and stay for a later pass; a concurrent fold skips the rows this one deleted. Does nothing while the table holds
   * no more than `minRows` rows (a folded table is one row per state type: folding it again would only churn).
   */
  async compactCountDeltas(batchSize: number, minRows: number): Promise<{ removed: number; added: number }> {
    const [row] = await this.manager.query<{ removed: number; added: number }[]>(
      `WITH doomed AS (SELECT id FROM task_run_count_delta ORDER BY id LIMIT $1),
       gone AS (DELETE FROM task_run_count_delta t USING doomed
                 WHERE t.id = doomed.id AND (SELECT count(*) FROM doomed) > $2
                 RETURNING t.state_type, t.delta),
       folded AS (INSERT INTO task_run_count_delta (state_type, delta)
                  SELECT state_type, sum(delta) FROM gone GROUP BY state_type HAVING sum(delta) <> 0
                  RETURNING 1)
       SELECT (SELECT count(*) FROM gone)::int AS removed, (SELECT count(*) FROM folded)::int AS added`,
      [batchSize, minRows],
    );
    return row;
  }

  /** `countByState` from the maintained counts (see `countFromDeltas`), of these state types (all when null). */
  async countByStateFromDeltas(
    stateTypes: readonly StateType[] | null,
  ): Promise<{ state_type: StateType | null; count: number }[]> {
    const rows = await this.manager.query<{ state_type: StateType | null; count: string }[]>(
      `SELECT state_type, sum(delta)::bigint AS count FROM task_run_count_delta
        ${stateTypes ? 'WHERE state_type = ANY($1::state_type[])' : ''}
        GROUP BY state_type HAVING sum(delta) <> 0`,
      stateTypes ? [stateTypes] : [],
    );
    return rows.map((r) => ({ state_type: r.state_type, count: Number(r.count) }));
  }

  countByState(where: string, p: SqlParams): Promise<{ state_type: StateType | null; count: number }[]> {
    return this.manager.query(
      `SELECT tr.state_type, count(*)::int AS count FROM task_run tr WHERE ${where} GROUP BY tr.state_type`,
      p.values,
    );
  }

  /**
   * `/task_runs/history`: per interval (`buckets` intervals from `start`), state type and name, the runs whose
   * expected start falls in it, their summed estimated run time and lateness at `now` (all placeholders in `p`).
   */
  history(
    p: SqlParams,
    at: { start: string; intervalSeconds: string; buckets: string; now: string },
    where: string,
  ): Promise<HistoryRow[]> {
    const interval = `make_interval(secs => ${at.intervalSeconds})`;
    const { start, now } = at;
    const runTime = `(extract(epoch FROM tr.total_run_time) + CASE WHEN tr.state_type = 'RUNNING' AND tr.state_timestamp IS NOT NULL
                THEN extract(epoch FROM (${now} - tr.state_timestamp)) ELSE 0 END)`;
    const lateness = `CASE WHEN tr.start_time > tr.expected_start_time THEN extract(epoch FROM (tr.start_time - tr.expected_start_time))
                 WHEN tr.start_time IS NULL AND tr.state_type IS NOT NULL AND tr.state_type NOT IN ${TERMINAL_SQL}
                      AND tr.expected_start_time < ${now} THEN extract(epoch FROM (${now} - tr.expected_start_time))
                 ELSE 0 END`;
    return this.manager.query(
      `WITH intervals AS (
         SELECT ${start} + n * ${interval} AS interval_start, ${start} + (n + 1) * ${interval} AS interval_end
           FROM generate_series(0, ${at.buckets} - 1) n
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
  }

  /** Dashboard buckets: started runs matching `where`, counted per bucket of `width` seconds from `start`. */
  finishedBuckets(
    p: SqlParams,
    where: string,
    start: string,
    width: string,
  ): Promise<{ bucket: number; completed: number; failed: number }[]> {
    return this.manager.query(
      `SELECT floor(extract(epoch FROM (tr.start_time - ${start})) / ${width})::int AS bucket,
              count(*) FILTER (WHERE tr.state_type = 'COMPLETED')::int AS completed,
              count(*) FILTER (WHERE tr.state_type IN ('FAILED','CRASHED'))::int AS failed
         FROM task_run tr WHERE ${where} AND tr.start_time IS NOT NULL
        GROUP BY 1`,
      p.values,
    );
  }

  readStates(taskRunId: string): Promise<TaskRunStateRow[]> {
    return this.manager.query(
      `SELECT s.*, a.data AS artifact_data FROM task_run_state s
         LEFT JOIN artifact a ON a.id = s.result_artifact_id
        WHERE s.task_run_id = $1 ORDER BY s.timestamp ASC`,
      [taskRunId],
    );
  }

  async readState(id: string): Promise<TaskRunStateRow | undefined> {
    const [row] = await this.manager.query<(TaskRunStateRow | undefined)[]>(
      `SELECT s.*, a.data AS artifact_data FROM task_run_state s
         LEFT JOIN artifact a ON a.id = s.result_artifact_id WHERE s.id = $1`,
      [id],
    );
    return row;
  }

  // ---------------------------------------------------------------- the recorder's bulk writes (bulk/)

  /**
   * One SELECT for every id and natural key of a recorder batch. Two index lookups joined by UNION ALL (an `OR`
   * over a sub-select would force a sequential scan of the whole table).
   */
  selectExistingForEvents(em: EntityManager, ids: string[], keys: NaturalKey[]): Promise<ExistingRunKey[]> {
    return em.query(
      `SELECT id, flow_run_id, task_key, dynamic_key, state_timestamp FROM task_run WHERE id = ANY($1::uuid[])
       UNION ALL
       SELECT t.id, t.flow_run_id, t.task_key, t.dynamic_key, t.state_timestamp
         FROM unnest($2::uuid[], $3::text[], $4::text[]) AS k(flow_run_id, task_key, dynamic_key)
         JOIN task_run t USING (flow_run_id, task_key, dynamic_key)`,
      [ids, keys.map((k) => k.flow_run_id), keys.map((k) => k.task_key), keys.map((k) => k.dynamic_key)],
    );
  }

  selectKeysByNaturalKeys(em: EntityManager, keys: NaturalKey[]): Promise<ExistingRunKey[]> {
    return em.query(
      `SELECT t.id, t.flow_run_id, t.task_key, t.dynamic_key, t.state_timestamp
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(flow_run_id, task_key, dynamic_key)
         JOIN task_run t USING (flow_run_id, task_key, dynamic_key)`,
      [keys.map((k) => k.flow_run_id), keys.map((k) => k.task_key), keys.map((k) => k.dynamic_key)],
    );
  }

  /**
   * One multi-row recorder upsert: `INSERT … SELECT … FROM unnest(<one array per column>) WITH ORDINALITY …
   * ORDER BY ord` (rows written in their sorted lock order; one parameter per column), updating only runs whose
   * state is older (newest state wins). `columns` are typed `name:sqltype`; `updates` the SET list.
   */
  upsertEventRuns(
    em: EntityManager,
    columns: { name: string; type: string }[],
    values: unknown[][],
    updates: string[],
    conflict: 'id' | 'natural-key',
  ): Promise<NaturalKey[] & { id: string }[]> {
    const names = columns.map((c) => `v_${c.name}`);
    const target = conflict === 'id' ? '(id)' : '(flow_run_id, task_key, dynamic_key)';
    return em.query(
      `INSERT INTO task_run AS task_run (${columns.map((c) => c.name).join(', ')}, created, updated)
       SELECT ${names.join(', ')}, now(), now()
         FROM unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')})
              WITH ORDINALITY AS v(${names.join(', ')}, ord)
        ORDER BY ord
       ON CONFLICT ${target} DO UPDATE SET ${[...updates, 'updated = now()'].join(', ')}
       WHERE task_run.state_timestamp IS NULL OR task_run.state_timestamp < excluded.state_timestamp
       RETURNING id, flow_run_id, task_key, dynamic_key`,
      values,
    );
  }

  /**
   * Recorder state rows, in the given order, `ON CONFLICT (id) DO NOTHING`; returns how many were new. A named
   * prepared statement, sent before this returns (on a transaction's connection), so a caller may send COMMIT
   * right behind it (`PipelinedTransaction.commitBehind`); it answers one count, not a row per state.
   */
  async insertEventStates(
    em: EntityManager,
    states: {
      id: string;
      task_run_id: string;
      type: StateType;
      timestamp: string;
      name: string;
      message: string | null;
      state_details: Record<string, unknown>;
      data: unknown;
    }[],
  ): Promise<number> {
    const text = RECORDER_STATES_SQL;
    const values = [
      states.map((s) => s.id),
      states.map((s) => s.task_run_id),
      states.map((s) => s.type),
      states.map((s) => s.timestamp),
      states.map((s) => s.name),
      states.map((s) => s.message),
      states.map((s) => JSON.stringify(s.state_details)),
      states.map((s) => json(s.data)),
    ];
    let rows: { n: number }[];
    try {
      rows = await preparedQuery<{ n: number }>(em, 'tr_recorder_states', text, values);
    } catch (err) {
      // The same error shape as `em.query` (callers and dead letters see a QueryFailedError either way).
      throw err instanceof QueryFailedError ? err : new QueryFailedError(text, values, err as Error);
    }
    return Number(rows[0].n);
  }

  // ---------------------------------------------------------------- the delivery port (TaskRunSnapshots)

  /**
   * Deferred SCHEDULED runs without a flow run, oldest state first, after the (state timestamp, id) cursor, as
   * TaskRun JSON snapshots rendered by the one renderer.
   */
  async deferredScheduledRuns(
    after: { stateTimestamp: string; id: string } | null,
    limit: number,
    nowMicros: number,
  ): Promise<RestorableTaskRun[]> {
    const rows: TaskRunRow[] = await this.manager.query(
      `SELECT ${TASK_RUN_SELECT} FROM ${TASK_RUN_FROM}
        WHERE tr.flow_run_id IS NULL AND tr.state_type = 'SCHEDULED'
          AND coalesce(s.state_details ->> 'deferred', 'false') = 'true'
          AND ($1::timestamptz IS NULL OR (tr.state_timestamp, tr.id) > ($1::timestamptz, $2::uuid))
        ORDER BY tr.state_timestamp, tr.id LIMIT $3`,
      [after?.stateTimestamp ?? null, after?.id ?? null, limit],
    );
    return rows.map((row) => ({
      taskRunId: row.id,
      taskKey: row.task_key,
      stateTimestamp: row.state_timestamp!,
      snapshot: toTaskRunJson(row, nowMicros),
    }));
  }

  /** Of these run ids, the ones still SCHEDULED. */
  async stillScheduled(ids: readonly string[]): Promise<Set<string>> {
    if (!ids.length) {
      return new Set();
    }
    const rows: { id: string }[] = await this.manager.query(
      `SELECT id FROM task_run WHERE id = ANY($1::uuid[]) AND state_type = 'SCHEDULED'`,
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  }
}
