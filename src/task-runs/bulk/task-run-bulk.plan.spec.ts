import { randomUUID } from 'node:crypto';
import {
  at,
  fullTaskRunPayload,
  runLifecycle,
  taskRunEvent,
} from '../../../test/factories/task-run-event.factory';
import {
  coalesce,
  ExistingRun,
  indexExisting,
  mergeGroup,
  planStatements,
  planUpsert,
} from './task-run-bulk.plan';
import { dbRecordableTaskRunFromEvent } from './task-run-event.mapper';

const rec = dbRecordableTaskRunFromEvent;

describe('task-run bulk plan', () => {
  const flowRunId = randomUUID();

  describe(coalesce.name, () => {
    it('should group records by id and by natural key, latest last', () => {
      const a = randomUUID();
      const b = randomUUID();
      const c = randomUUID();
      const [p, r, done] = runLifecycle(a, flowRunId);
      // b: the same natural key as a under another id; c: unrelated and without a flow run
      const dup = taskRunEvent({ taskRunId: b, flowRunId, type: 'RUNNING', occurred: at(1_500_000) });
      const lone = taskRunEvent({ taskRunId: c, type: 'RUNNING', occurred: at(0) });
      const groups = coalesce([done, lone, dup, r, p].map(rec));
      expect(groups).toHaveLength(2);
      const big = groups.find((g) => g.records.length === 4)!;
      expect(big.records.map((x) => x.state.type)).toEqual(['PENDING', 'RUNNING', 'RUNNING', 'COMPLETED']);
      expect(big.keys).toHaveLength(3); // two ids, one natural key
    });

    it('should link a chain: an id that changes its natural key joins both keys', () => {
      const a = randomUUID();
      const b = randomUUID();
      const e1 = taskRunEvent({
        taskRunId: a,
        flowRunId,
        type: 'PENDING',
        occurred: at(0),
        taskRun: fullTaskRunPayload({ dynamic_key: '1' }),
      });
      const e2 = taskRunEvent({
        taskRunId: a,
        flowRunId,
        type: 'RUNNING',
        occurred: at(1),
        taskRun: fullTaskRunPayload({ dynamic_key: '2' }),
      });
      const e3 = taskRunEvent({
        taskRunId: b,
        flowRunId,
        type: 'RUNNING',
        occurred: at(2),
        taskRun: fullTaskRunPayload({ dynamic_key: '2' }),
      });
      expect(coalesce([e3, e1, e2].map(rec))).toHaveLength(1);
    });

    it('should never link runs without a flow run by natural key', () => {
      const e1 = taskRunEvent({ taskRunId: randomUUID(), type: 'PENDING', occurred: at(0) });
      const e2 = taskRunEvent({ taskRunId: randomUUID(), type: 'PENDING', occurred: at(0) });
      expect(coalesce([e1, e2].map(rec))).toHaveLength(2);
    });

    it('should drop a repeated event', () => {
      const e = taskRunEvent({ taskRunId: randomUUID(), type: 'PENDING', occurred: at(0) });
      expect(coalesce([e, { ...e }].map(rec))[0].records).toHaveLength(1);
    });
  });

  describe(mergeGroup.name, () => {
    it('should take the latest record and fill what it omits from earlier ones', () => {
      const id = randomUUID();
      const e1 = taskRunEvent({
        taskRunId: id,
        type: 'PENDING',
        occurred: at(0),
        taskRun: fullTaskRunPayload({ tags: ['x'], end_time: at(0) }),
      });
      const e2 = taskRunEvent({
        taskRunId: id,
        type: 'RUNNING',
        occurred: at(1),
        taskRun: { task_key: 'my-task', dynamic_key: '0', end_time: null },
      });
      const row = mergeGroup(coalesce([e2, e1].map(rec))[0].records);
      expect(row).toMatchObject({ state_type: 'RUNNING', tags: '["x"]', end_time: null });
    });

    it('should leave out records not newer than the existing row', () => {
      const id = randomUUID();
      const e1 = taskRunEvent({
        taskRunId: id,
        type: 'PENDING',
        occurred: at(0),
        taskRun: fullTaskRunPayload({ tags: ['old'] }),
      });
      const e2 = taskRunEvent({
        taskRunId: id,
        type: 'RUNNING',
        occurred: at(10),
        taskRun: { task_key: 'my-task', dynamic_key: '0' },
      });
      const records = coalesce([e1, e2].map(rec))[0].records;
      expect(mergeGroup(records, records[0].stateMicros)).not.toHaveProperty('tags');
    });
  });

  describe(planUpsert.name, () => {
    const existing = (over: Partial<ExistingRun>): ExistingRun => ({
      id: randomUUID(),
      flow_run_id: flowRunId,
      task_key: 'my-task',
      dynamic_key: '0',
      state_timestamp: at(-1),
      ...over,
    });

    it('should target the natural key of a new run with a flow run, else the id', () => {
      const withFlow = coalesce([
        rec(taskRunEvent({ taskRunId: randomUUID(), flowRunId, type: 'PENDING', occurred: at(0) })),
      ])[0];
      const without = coalesce([
        rec(taskRunEvent({ taskRunId: randomUUID(), type: 'PENDING', occurred: at(0) })),
      ])[0];
      expect(planUpsert(withFlow, indexExisting([])).target).toBe('natural-key');
      expect(planUpsert(without, indexExisting([])).target).toBe('id');
    });

    it('should prefer an existing natural key, then an existing id', () => {
      const id = randomUUID();
      const group = coalesce([
        rec(taskRunEvent({ taskRunId: id, flowRunId, type: 'PENDING', occurred: at(0) })),
      ])[0];
      const byKey = existing({});
      const byId = existing({ id, dynamic_key: 'other' });
      expect(planUpsert(group, indexExisting([byId, byKey]))).toMatchObject({
        target: 'natural-key',
        existing: byKey,
      });
      expect(planUpsert(group, indexExisting([byId]))).toMatchObject({ target: 'id', existing: byId });
    });

    it('should rewrite the id to a run another key of the group names', () => {
      const a = randomUUID();
      const b = randomUUID();
      const older = rec(taskRunEvent({ taskRunId: a, flowRunId, type: 'PENDING', occurred: at(0) }));
      const newer = rec(
        taskRunEvent({
          taskRunId: a,
          flowRunId,
          type: 'RUNNING',
          occurred: at(1),
          taskRun: fullTaskRunPayload({ dynamic_key: 'new' }),
        }),
      );
      const other = existing({ id: b });
      const planned = planUpsert(coalesce([older, newer])[0], indexExisting([other]));
      expect(planned).toMatchObject({ target: 'id', row: { id: b, dynamic_key: 'new' }, sortKey: ['id', b] });
    });
  });

  describe(planStatements.name, () => {
    const plan = (events: ReturnType<typeof taskRunEvent>[], maxRows?: number) =>
      planStatements(
        coalesce(events.map(rec)).map((g) => planUpsert(g, indexExisting([]))),
        maxRows,
      );

    it('should sort by conflict key and share statements', () => {
      const events = Array.from({ length: 10 }, (_, i) =>
        taskRunEvent({
          taskRunId: randomUUID(),
          flowRunId,
          type: 'PENDING',
          occurred: at(i),
          taskRun: fullTaskRunPayload({ dynamic_key: String(9 - i) }),
        }),
      );
      const statements = plan(events);
      expect(statements).toHaveLength(1);
      expect(statements[0].upserts.map((u) => u.row.dynamic_key)).toEqual([
        '0',
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
        '7',
        '8',
        '9',
      ]);
      expect(plan(events, 4).map((s) => s.upserts.length)).toEqual([4, 4, 2]);
    });

    it('should put id targets and natural-key targets in separate statements, ids first', () => {
      const statements = plan([
        taskRunEvent({ taskRunId: randomUUID(), flowRunId, type: 'PENDING', occurred: at(0) }),
        taskRunEvent({ taskRunId: randomUUID(), type: 'PENDING', occurred: at(0) }),
      ]);
      expect(statements.map((s) => s.target)).toEqual(['id', 'natural-key']);
    });

    it('should share a statement when rows differ in fillable columns only', () => {
      const k = (d: string, extra: Record<string, unknown>) =>
        taskRunEvent({
          taskRunId: randomUUID(),
          flowRunId,
          type: 'RUNNING',
          occurred: at(0),
          taskRun: fullTaskRunPayload({ dynamic_key: d, ...extra }),
        });
      expect(plan([k('1', { start_time: at(1) }), k('2', {})])).toHaveLength(1);
      // an explicit NULL next to an omission cannot share (COALESCE would keep the old value)
      expect(plan([k('1', { start_time: null }), k('2', {})])).toHaveLength(2);
      // a non-fillable column supplied by one row only
      const { tags: _, ...noTags } = fullTaskRunPayload({ dynamic_key: '3' });
      const untagged = taskRunEvent({
        taskRunId: randomUUID(),
        flowRunId,
        type: 'RUNNING',
        occurred: at(0),
        taskRun: noTags,
      });
      expect(plan([k('1', {}), untagged])).toHaveLength(2);
    });
  });
});
