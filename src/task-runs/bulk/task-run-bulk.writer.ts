import { Injectable, Logger, Optional } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { isIntegrityError, sqlState } from '../../common/errors/db-errors';
import { generateRunName } from '../../common/names/run-name';
import { ReceivedEvent } from '../../events/event.types';
import { NaturalKey, PipelinedTransaction, TaskRunsRepository } from '../task-runs.repository';
import {
  coalesce,
  ExistingRun,
  indexExisting,
  naturalKey,
  PlannedStatement,
  PlannedUpsert,
  planStatements,
  planUpsert,
} from './task-run-bulk.plan';
import {
  dbRecordableTaskRunFromEvent,
  FILLABLE_COLUMNS,
  RecordableTaskRun,
  SqlValue,
  TASK_RUN_COLUMNS,
  TaskRunColumn,
} from './task-run-event.mapper';

export interface BulkRecordResult {
  /** Distinct events recorded (each one a state row, new or already there). */
  events: number;
  /** Task runs written (one upsert per run of the batch). */
  runs: number;
  /** State rows actually inserted (a redelivered event inserts none). */
  statesInserted: number;
  /** Transactions it took: 1, or 2 after an integrity race with another recorder. */
  attempts: number;
}

/** State rows per INSERT (bounded statements, as for the upserts). */
const MAX_STATES_PER_STATEMENT = 4096;

/** A lost race with a concurrent recorder: worth one fresh attempt (docs/reference.md §5.3, "retry once"). */
export function isRecorderRace(err: unknown): boolean {
  const code = sqlState(err);
  return isIntegrityError(err) || code === '40P01' || code === '40001';
}

/**
 * Writes client-emitted task-run events as `task_run` upserts and `task_run_state` rows
 * (upstream `record_bulk_task_run_events`, docs/reference.md §5.3), in one transaction per attempt:
 *
 * 1. map each event (task-run-event.mapper.ts) and coalesce the batch by id and natural key (union-find);
 * 2. one SELECT for every id and natural key of the batch;
 * 3. a conflict target per run (natural key, id, or the id of the row another key of the run already names);
 * 4. the upserts sorted by conflict key (a fixed lock order) in multi-row
 *    `INSERT … ON CONFLICT … DO UPDATE … WHERE task_run.state_timestamp < excluded.state_timestamp` statements
 *    (rows passed as one array per column, so the parameter limit never binds);
 * 5. one state row per event, `ON CONFLICT (id) DO NOTHING`, pointing at the run's canonical id.
 *
 * An integrity error (or a deadlock/serialization failure) means another recorder raced this one between the
 * SELECT and the INSERT: the whole attempt is retried once in a fresh transaction, which sees the other's rows.
 * A second failure propagates to the caller (the recorder's consumer retries, then dead-letters).
 *
 * Beyond upstream: a row whose `state_timestamp` is NULL (a run without a state) takes the event's state
 * instead of blocking every update forever (docs/reference.md §8 point 6); the fields of older events of the same batch fill
 * what the latest one omits (see `mergeGroup`).
 */
@Injectable()
export class TaskRunBulkWriter {
  private readonly logger = new Logger(TaskRunBulkWriter.name);
  /** Attempts retried after a race, since start (for tests and metrics). */
  raceRetries = 0;

  private readonly repository: TaskRunsRepository;

  /** `repository` is the task-runs persistence seam (every statement lives there); tests may pass a DataSource only. */
  constructor(dataSource: DataSource, @Optional() repository?: TaskRunsRepository) {
    this.repository = repository ?? new TaskRunsRepository(dataSource);
  }

  /** Records one event; delegates to the bulk path (and so retries once on a race). */
  async recordTaskRunEvent(event: ReceivedEvent): Promise<BulkRecordResult> {
    return this.recordBulkTaskRunEvents([event]);
  }

  /**
   * Records the events in one transaction (two after a race). Throws `InvalidTaskRunEventError` for an event
   * that cannot be mapped (nothing is written), or the database error of the last attempt. `mapped`: the
   * events' `dbRecordableTaskRunFromEvent`, when the caller already has them (same order), so they are not
   * mapped twice (the recorder maps each event when it arrives).
   */
  async recordBulkTaskRunEvents(
    events: ReceivedEvent[],
    mapped?: readonly RecordableTaskRun[],
  ): Promise<BulkRecordResult> {
    const records =
      mapped && mapped.length === events.length
        ? [...mapped]
        : events.map((event) => dbRecordableTaskRunFromEvent(event));
    if (!records.length) {
      return { events: 0, runs: 0, statesInserted: 0, attempts: 0 };
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.repository.transaction((em, tx) => this.attempt(em, tx, records));
        return { ...result, attempts: attempt };
      } catch (err) {
        if (attempt >= 2 || !isRecorderRace(err)) {
          throw err;
        }
        this.raceRetries += 1;
        this.logger.debug({ msg: 'race with another recorder, retrying once', error: String(err) });
      }
    }
  }

  private async attempt(
    em: EntityManager,
    tx: PipelinedTransaction,
    records: RecordableTaskRun[],
  ): Promise<Omit<BulkRecordResult, 'attempts'>> {
    const groups = coalesce(records);
    const existing = indexExisting(await this.selectExisting(em, records));
    const upserts = groups.map((group) => planUpsert(group, existing));

    const canonical = new Map<PlannedUpsert, string>();
    const unresolved: PlannedUpsert[] = [];
    for (const statement of planStatements(upserts)) {
      const returned = await this.upsert(em, statement);
      for (const u of statement.upserts) {
        if (u.target === 'id') {
          canonical.set(u, u.row.id);
        } else {
          const id = returned.get(naturalKey(u.row)!);
          if (id) {
            canonical.set(u, id);
          } else {
            unresolved.push(u);
          } // not updated (the row is newer): re-select its id below
        }
      }
    }
    if (unresolved.length) {
      const rows = await this.selectByNaturalKeys(
        em,
        unresolved.map((u) => u.row as NaturalKey),
      );
      const ids = new Map(rows.map((r) => [naturalKey(r)!, r.id]));
      for (const u of unresolved) {
        const id = ids.get(naturalKey(u.row)!);
        if (!id) {
          throw new Error(`task run ${naturalKey(u.row)} vanished during the upsert`);
        }
        canonical.set(u, id);
      }
    }

    const states = upserts
      .flatMap((u) => u.group.records.map((record) => ({ record, runId: canonical.get(u)! })))
      .sort((a, b) =>
        a.record.state.id < b.record.state.id ? -1 : a.record.state.id > b.record.state.id ? 1 : 0,
      );
    let statesInserted = 0;
    for (let i = 0; i < states.length; i += MAX_STATES_PER_STATEMENT) {
      const inserted = this.insertStates(em, states.slice(i, i + MAX_STATES_PER_STATEMENT));
      if (i + MAX_STATES_PER_STATEMENT >= states.length) {
        // The last statement is sent: COMMIT goes behind it in the same round trip (a failure of the statement
        // turns it into a ROLLBACK; nothing after this line can fail).
        tx.commitBehind();
      }
      statesInserted += await inserted;
    }
    return { events: states.length, runs: upserts.length, statesInserted };
  }

  private selectExisting(em: EntityManager, records: RecordableTaskRun[]): Promise<ExistingRun[]> {
    const ids = [...new Set(records.map((r) => r.row.id))];
    const withFlowRun = records.filter((r) => r.row.flow_run_id != null).map((r) => r.row as NaturalKey);
    return this.repository.selectExistingForEvents(em, ids, withFlowRun);
  }

  private selectByNaturalKeys(em: EntityManager, rows: NaturalKey[]): Promise<ExistingRun[]> {
    return this.repository.selectKeysByNaturalKeys(em, rows);
  }

  /**
   * One multi-row upsert through the repository (one array per column, rows in their sorted lock order).
   * Returns natural key → id of the rows it inserted or updated.
   */
  private async upsert(em: EntityManager, statement: PlannedStatement): Promise<Map<string, string>> {
    const rows = statement.upserts.map((u) => u.row);
    const all = Object.keys(TASK_RUN_COLUMNS) as TaskRunColumn[];
    // `name` is NOT NULL without a default: rows that omit it get a generated name when inserted (only).
    const columns = all.filter((c) => c === 'name' || rows.some((r) => c in r));
    const supplied = (c: TaskRunColumn): boolean => rows.every((r) => c in r);
    const params: SqlValue[][] = columns.map((c) =>
      rows.map((row) => (c in row ? row[c]! : c === 'name' ? generateRunName() : null)),
    );
    const updates = columns
      .filter((c) => c !== 'id' && (supplied(c) || FILLABLE_COLUMNS.has(c)))
      .map((c) => (supplied(c) ? `${c} = excluded.${c}` : `${c} = COALESCE(excluded.${c}, task_run.${c})`));
    const returned = await this.repository.upsertEventRuns(
      em,
      columns.map((c) => ({ name: c, type: TASK_RUN_COLUMNS[c] })),
      params,
      updates,
      statement.target,
    );
    const ids = new Map<string, string>();
    for (const r of returned) {
      const nk = naturalKey(r);
      if (nk) {
        ids.set(nk, r.id);
      }
    }
    return ids;
  }

  /** One state row per event, in state-id order, `ON CONFLICT (id) DO NOTHING`; returns how many were new. */
  private insertStates(
    em: EntityManager,
    states: { record: RecordableTaskRun; runId: string }[],
  ): Promise<number> {
    return this.repository.insertEventStates(
      em,
      states.map((s) => ({
        id: s.record.state.id,
        task_run_id: s.runId,
        type: s.record.state.type,
        timestamp: s.record.state.timestamp,
        name: s.record.state.name,
        message: s.record.state.message,
        state_details: { ...s.record.state.stateDetails, task_run_id: s.runId },
        data: s.record.state.data,
      })),
    );
  }
}
