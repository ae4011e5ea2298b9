import { toMicros } from '../../common/time/timestamp';
import {
  FILLABLE_COLUMNS,
  RecordableTaskRun,
  TASK_RUN_COLUMNS,
  TaskRunColumn,
  TaskRunUpsertRow,
} from './task-run-event.mapper';

/**
 * The pure part of `recordBulkTaskRunEvents` (docs/reference.md §5.3 steps 2, 4, 5): coalescing a batch, choosing each
 * group's conflict target against the rows that exist, and cutting the sorted upserts into multi-row statements.
 * The writer (task-run-bulk.writer.ts) adds the database round trips.
 */

/**
 * Rows per upsert statement: what a VALUES list of every column fits in upstream's 32767 parameters. The writer
 * passes one array per column (unnest), so the parameter limit itself never binds; the cap keeps each statement
 * (and the row locks it takes at once) bounded.
 */
export const MAX_PARAMS = 32767;
export const MAX_ROWS_PER_STATEMENT = Math.floor(MAX_PARAMS / Object.keys(TASK_RUN_COLUMNS).length);

export type ConflictTarget = 'id' | 'natural-key';

/** A row of task_run as the existence check sees it. */
export interface ExistingRun {
  id: string;
  flow_run_id: string | null;
  task_key: string;
  dynamic_key: string;
  state_timestamp: string | null;
}

export function idKey(id: string): string {
  return `id:${id}`;
}

/** The natural key `(flow_run_id, task_key, dynamic_key)`; none without a flow run (NULL never conflicts). */
export function naturalKey(
  row: Pick<TaskRunUpsertRow, 'flow_run_id' | 'task_key' | 'dynamic_key'>,
): string | undefined {
  return row.flow_run_id == null
    ? undefined
    : `nk:${JSON.stringify([row.flow_run_id, row.task_key, row.dynamic_key])}`;
}

/** Records that name the same run: they share an id, or a natural key. Records in timestamp order. */
export interface RunGroup {
  records: RecordableTaskRun[];
  /** Every id and natural key of the group, sorted. */
  keys: string[];
}

/**
 * Step 2: stable-sort by state timestamp, drop repeated events (same event id: a redelivery), and link
 * records that share an id or a natural key with union-find.
 */
export function coalesce(records: RecordableTaskRun[]): RunGroup[] {
  const seen = new Set<string>();
  const unique = records.filter((r) => (seen.has(r.eventId) ? false : (seen.add(r.eventId), true)));
  const sorted = unique
    .map((record, index) => ({ record, index }))
    .sort((a, b) => a.record.stateMicros - b.record.stateMicros || a.index - b.index)
    .map((x) => x.record);

  const parent = sorted.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const owner = new Map<string, number>();
  sorted.forEach((record, i) => {
    for (const key of [idKey(record.row.id), naturalKey(record.row)]) {
      if (key === undefined) {
        continue;
      }
      const other = owner.get(key);
      if (other === undefined) {
        owner.set(key, i);
      } else {
        parent[find(i)] = find(other);
      }
    }
  });

  const groups = new Map<number, RunGroup>();
  sorted.forEach((record, i) => {
    const root = find(i);
    let group = groups.get(root);
    if (!group) {
      groups.set(root, (group = { records: [], keys: [] }));
    }
    group.records.push(record);
  });
  for (const group of groups.values()) {
    const keys = new Set<string>();
    for (const r of group.records) {
      keys.add(idKey(r.row.id));
      const nk = naturalKey(r.row);
      if (nk) {
        keys.add(nk);
      }
    }
    group.keys = [...keys].sort();
  }
  return [...groups.values()];
}

/**
 * The group's upsert row: the latest record, with the fields that only earlier records supplied filled in
 * from them (later wins, explicit nulls included). Records not newer than the existing row's state are left out,
 * so an older event never contributes fields to a newer row.
 */
export function mergeGroup(records: RecordableTaskRun[], existingStateMicros?: number): TaskRunUpsertRow {
  const latest = records[records.length - 1];
  const applicable =
    existingStateMicros === undefined ? records : records.filter((r) => r.stateMicros > existingStateMicros);
  if (applicable.length <= 1) {
    return { ...latest.row };
  }
  const merged = {} as TaskRunUpsertRow;
  for (const r of applicable) {
    Object.assign(merged, r.row);
  }
  return merged;
}

export interface PlannedUpsert {
  target: ConflictTarget;
  row: TaskRunUpsertRow;
  /** The lock order: `["id", id]` or `["natural-key", flow_run_id, task_key, dynamic_key]`. */
  sortKey: string[];
  group: RunGroup;
  /** The row the upsert will update, as seen by the existence check (undefined: a new run). */
  existing?: ExistingRun;
}

export interface ExistingIndex {
  byId: Map<string, ExistingRun>;
  byNaturalKey: Map<string, ExistingRun>;
}

export function indexExisting(rows: ExistingRun[]): ExistingIndex {
  const byId = new Map<string, ExistingRun>();
  const byNaturalKey = new Map<string, ExistingRun>();
  for (const row of rows) {
    byId.set(idKey(row.id), row);
    const nk = naturalKey(row);
    if (nk) {
      byNaturalKey.set(nk, row);
    }
  }
  return { byId, byNaturalKey };
}

function lookup(index: ExistingIndex, key: string): ExistingRun | undefined {
  return key.startsWith('id:') ? index.byId.get(key) : index.byNaturalKey.get(key);
}

/** Step 4: the conflict target of each group, first match wins (docs/reference.md §5.3). */
export function planUpsert(group: RunGroup, index: ExistingIndex): PlannedUpsert {
  const latest = group.records[group.records.length - 1].row;
  const nk = naturalKey(latest);
  let target: ConflictTarget;
  let existing: ExistingRun | undefined;
  let id = latest.id;
  if (nk && index.byNaturalKey.has(nk)) {
    target = 'natural-key';
    existing = index.byNaturalKey.get(nk);
  } else if (index.byId.has(idKey(latest.id))) {
    target = 'id';
    existing = index.byId.get(idKey(latest.id));
  } else {
    const other = group.keys.map((k) => lookup(index, k)).find((r) => r !== undefined);
    if (other) {
      target = 'id';
      existing = other;
      id = other.id; // the run exists under another key of the group: write to it
    } else {
      target = nk ? 'natural-key' : 'id';
    }
  }
  const existingMicros =
    existing?.state_timestamp != null ? toMicros(existing.state_timestamp) : existing ? -Infinity : undefined;
  const row = { ...mergeGroup(group.records, existingMicros), id };
  const sortKey =
    target === 'id' ? ['id', row.id] : ['natural-key', row.flow_run_id!, row.task_key, row.dynamic_key];
  return { target, row, sortKey, group, existing };
}

export function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return a[i] < b[i] ? -1 : 1;
    }
  }
  return a.length - b.length;
}

export interface PlannedStatement {
  target: ConflictTarget;
  upserts: PlannedUpsert[];
}

class StatementBuilder {
  readonly upserts: PlannedUpsert[] = [];
  private readonly targets = new Set<string>();
  /** Fillable columns some row omits / some row sets to an explicit null. */
  private readonly omitted = new Set<TaskRunColumn>();
  private readonly explicitNull = new Set<TaskRunColumn>();

  constructor(readonly target: ConflictTarget) {}

  accepts(upsert: PlannedUpsert, maxRows: number): boolean {
    if (this.upserts.length === 0) {
      return true;
    }
    if (upsert.target !== this.target || this.upserts.length >= maxRows) {
      return false;
    }
    if (this.targets.has(upsert.sortKey.join('\u0000'))) {
      return false;
    }
    const first = this.upserts[0].row;
    for (const column of Object.keys(TASK_RUN_COLUMNS) as TaskRunColumn[]) {
      const has = column in upsert.row;
      if (!FILLABLE_COLUMNS.has(column)) {
        if (has !== column in first) {
          return false;
        }
        continue;
      }
      // An explicit NULL cannot share a statement with an omission: COALESCE would keep the old value.
      if (has && upsert.row[column] === null && this.omitted.has(column)) {
        return false;
      }
      if (!has && this.explicitNull.has(column)) {
        return false;
      }
    }
    return true;
  }

  add(upsert: PlannedUpsert): void {
    this.upserts.push(upsert);
    this.targets.add(upsert.sortKey.join('\u0000'));
    for (const column of FILLABLE_COLUMNS) {
      if (!(column in upsert.row)) {
        this.omitted.add(column);
      } else if (upsert.row[column] === null) {
        this.explicitNull.add(column);
      }
    }
  }
}

/**
 * Step 5: sort the upserts by conflict key (a fixed lock order, so concurrent recorders never deadlock) and cut
 * them into multi-row statements: consecutive rows share one when they have the same target, differ only in
 * fillable columns (with no explicit NULL against an omission), repeat no target value and fit the parameter limit.
 */
export function planStatements(
  upserts: PlannedUpsert[],
  maxRows = MAX_ROWS_PER_STATEMENT,
): PlannedStatement[] {
  const sorted = [...upserts].sort((a, b) => compareKeys(a.sortKey, b.sortKey));
  const statements: StatementBuilder[] = [];
  let current: StatementBuilder | undefined;
  for (const upsert of sorted) {
    if (!current || !current.accepts(upsert, maxRows)) {
      current = new StatementBuilder(upsert.target);
      statements.push(current);
    }
    current.add(upsert);
  }
  return statements.map((s) => ({ target: s.target, upserts: s.upserts }));
}
