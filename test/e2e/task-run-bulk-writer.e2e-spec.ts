import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ReceivedEvent } from '../../src/events/event.types';
import { TaskRunBulkWriter } from '../../src/task-runs/bulk/task-run-bulk.writer';
import { InvalidTaskRunEventError } from '../../src/task-runs/bulk/task-run-event.mapper';
import { insertFlowRun } from '../factories/flow-run.sql';
import { at, fullTaskRunPayload, runLifecycle, taskRunEvent } from '../factories/task-run-event.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';

// Real databases, several app instances: longer than jest's default 5 s (the e2e project's testTimeout is not
// applied per project by this jest version).
jest.setTimeout(60_000);

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) {
    return [items];
  }
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A `task_run_state` row, as far as these tests read it. */
interface StateRow {
  id: string;
  type: string;
  timestamp: string;
  state_details: { task_run_id: string; flow_run_id: string | null };
}

describe('TaskRunBulkWriter on PostgreSQL', () => {
  let t: TestApp;
  let ds: DataSource;
  let sut: TaskRunBulkWriter;

  beforeAll(async () => {
    t = await createTestApp({
      listen: false,
      env: { PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false' },
    });
    ds = t.dataSource;
    sut = new TaskRunBulkWriter(ds);
  });

  afterAll(async () => {
    await t.close();
  });

  const run = async (id: string): Promise<Record<string, unknown> | undefined> =>
    (await ds.query<Record<string, unknown>[]>(`SELECT * FROM task_run WHERE id = $1`, [id]))[0];
  const states = async (id: string): Promise<StateRow[]> =>
    ds.query(`SELECT * FROM task_run_state WHERE task_run_id = $1 ORDER BY timestamp`, [id]);

  /**
   * Another recorder's transaction that has inserted a run and not committed yet: the caller commits it
   * (`other.query('COMMIT')`) and ends the client.
   */
  const uncommittedRun = async (values: {
    id: string;
    name: string;
    flowRunId: string;
    dynamicKey: string;
    stateType: string;
    at: string;
  }): Promise<Client> => {
    const other = new Client({ connectionString: t.databaseUrl });
    await other.connect();
    await other.query('BEGIN');
    await other.query(
      `INSERT INTO task_run (id, name, flow_run_id, task_key, dynamic_key, state_type, state_timestamp)
       VALUES ($1, $2, $3, 'my-task', $4, $5, $6)`,
      [values.id, values.name, values.flowRunId, values.dynamicKey, values.stateType, values.at],
    );
    return other;
  };
  /** Resolves once a session of this database waits for a lock (the writer blocked on the other transaction). */
  const someoneWaitsForALock = () =>
    expectEventually(async () => {
      const [{ n }] = await ds.query<{ n: string }[]>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      expect(Number(n)).toBeGreaterThan(0);
    });

  describe('arrival order', () => {
    const orders = permutations([0, 1, 2]);

    it.each(orders.map((o) => [o.join('')]))(
      'should end COMPLETED with 3 states for order %s, one event per batch',
      async (order) => {
        const flowRunId = await insertFlowRun(ds);
        const id = randomUUID();
        const events = runLifecycle(id, flowRunId);
        for (const i of order.split('').map(Number)) {
          await sut.recordBulkTaskRunEvents([events[i]]);
        }
        const row = await run(id);
        expect(row).toMatchObject({
          state_type: 'COMPLETED',
          state_name: 'Completed',
          state_id: events[2].id,
          state_timestamp: events[2].occurred,
          run_count: 1,
          start_time: at(1_000_000),
          end_time: at(2_000_000),
          total_run_time: 1,
          tags: ['a', 'b'],
          flow_run_id: flowRunId,
        });
        expect((await states(id)).map((s) => s.type)).toEqual(['PENDING', 'RUNNING', 'COMPLETED']);
      },
    );

    it.each(orders.map((o) => [o.join('')]))(
      'should end COMPLETED with 3 states for order %s, one batch',
      async (order) => {
        const id = randomUUID();
        const events = runLifecycle(id, null);
        await sut.recordBulkTaskRunEvents(order.split('').map((i) => events[Number(i)]));
        expect(await run(id)).toMatchObject({
          state_type: 'COMPLETED',
          end_time: at(2_000_000),
          flow_run_id: null,
        });
        const rows = await states(id);
        expect(rows.map((s) => [s.id, s.type, s.timestamp])).toEqual(
          events.map((e) => [e.id, (e.payload.validated_state as { type: string }).type, e.occurred]),
        );
        expect(rows[0].state_details).toEqual({ task_run_id: id, flow_run_id: null });
      },
    );
  });

  it('should never let an older event regress a row', async () => {
    const id = randomUUID();
    const [pending, running, completed] = runLifecycle(id, null);
    await sut.recordBulkTaskRunEvents([completed]);
    const before = await run(id);
    await sut.recordBulkTaskRunEvents([running]);
    await sut.recordBulkTaskRunEvents([pending]);
    const after = await run(id);
    expect(after).toMatchObject({
      state_type: 'COMPLETED',
      end_time: at(2_000_000),
      updated: before!.updated,
    });
    expect(await states(id)).toHaveLength(3);
  });

  it('should keep the fields a partial payload omits', async () => {
    const id = randomUUID();
    const full = fullTaskRunPayload({ name: 'named', cache_key: 'ck', task_version: 'v1' });
    await sut.recordBulkTaskRunEvents([
      taskRunEvent({ taskRunId: id, type: 'PENDING', occurred: at(0), taskRun: full }),
    ]);
    await sut.recordBulkTaskRunEvents([
      taskRunEvent({
        taskRunId: id,
        type: 'RUNNING',
        occurred: at(10),
        taskRun: { task_key: 'my-task', dynamic_key: '0', start_time: at(10), run_count: 1 },
      }),
    ]);
    expect(await run(id)).toMatchObject({
      name: 'named',
      state_type: 'RUNNING',
      start_time: at(10),
      run_count: 1,
      cache_key: 'ck',
      task_version: 'v1',
      tags: ['a', 'b'],
      labels: { team: 'data' },
      empirical_policy: full.empirical_policy,
      flow_run_run_count: 1,
    });
  });

  it('should give a new run without a name in its payload a generated name', async () => {
    const id = randomUUID();
    await sut.recordBulkTaskRunEvents([
      taskRunEvent({
        taskRunId: id,
        type: 'RUNNING',
        occurred: at(0),
        taskRun: { task_key: 'k', dynamic_key: 'd' },
      }),
    ]);
    expect((await run(id))!.name).toMatch(/^[a-z]+-[a-z]+$/);
  });

  it('should clear a field on an explicit null and keep it when omitted', async () => {
    const id = randomUUID();
    await sut.recordBulkTaskRunEvents([
      taskRunEvent({
        taskRunId: id,
        type: 'RUNNING',
        occurred: at(0),
        taskRun: fullTaskRunPayload({ cache_key: 'ck', start_time: at(0), end_time: at(0) }),
      }),
    ]);
    await sut.recordBulkTaskRunEvents([
      taskRunEvent({
        taskRunId: id,
        type: 'RUNNING',
        name: 'Retrying',
        occurred: at(5),
        taskRun: { task_key: 'my-task', dynamic_key: '0', labels: null, end_time: null },
      }),
    ]);
    expect(await run(id)).toMatchObject({
      state_name: 'Retrying',
      labels: null,
      end_time: null,
      cache_key: 'ck',
      start_time: at(0),
      tags: ['a', 'b'],
    });
  });

  it('should mix explicit nulls and omissions of one column in one batch correctly', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const seed = (id: string, d: string) =>
      taskRunEvent({
        taskRunId: id,
        type: 'PENDING',
        occurred: at(0),
        taskRun: fullTaskRunPayload({ dynamic_key: d, end_time: at(0) }),
      });
    await sut.recordBulkTaskRunEvents([seed(a, 'a'), seed(b, 'b')]);
    await sut.recordBulkTaskRunEvents([
      taskRunEvent({
        taskRunId: a,
        type: 'RUNNING',
        occurred: at(1),
        taskRun: { task_key: 'my-task', dynamic_key: 'a', end_time: null },
      }),
      taskRunEvent({
        taskRunId: b,
        type: 'RUNNING',
        occurred: at(1),
        taskRun: { task_key: 'my-task', dynamic_key: 'b' },
      }),
    ]);
    expect((await run(a))!.end_time).toBeNull();
    expect((await run(b))!.end_time).toBe(at(0));
  });

  describe('natural key', () => {
    it('should make one run of one natural key under two ids (separate batches)', async () => {
      const flowRunId = await insertFlowRun(ds);
      const a = randomUUID();
      const b = randomUUID();
      await sut.recordBulkTaskRunEvents([
        taskRunEvent({ taskRunId: a, flowRunId, type: 'PENDING', occurred: at(0) }),
      ]);
      await sut.recordBulkTaskRunEvents([
        taskRunEvent({ taskRunId: b, flowRunId, type: 'RUNNING', occurred: at(1) }),
      ]);
      const rows = await ds.query<{ id: string; state_type: string }[]>(
        `SELECT id, state_type FROM task_run WHERE flow_run_id = $1`,
        [flowRunId],
      );
      expect(rows).toEqual([{ id: a, state_type: 'RUNNING' }]);
      const st = await states(a);
      expect(st.map((s) => s.type)).toEqual(['PENDING', 'RUNNING']);
      expect(st[1].state_details.task_run_id).toBe(a);
      expect(await run(b)).toBeUndefined();
    });

    it('should make one run of one natural key under two ids (one batch)', async () => {
      const flowRunId = await insertFlowRun(ds);
      const a = randomUUID();
      const b = randomUUID();
      await sut.recordBulkTaskRunEvents([
        taskRunEvent({ taskRunId: b, flowRunId, type: 'RUNNING', occurred: at(1) }),
        taskRunEvent({ taskRunId: a, flowRunId, type: 'PENDING', occurred: at(0) }),
      ]);
      const rows = await ds.query<{ id: string; state_type: string }[]>(
        `SELECT id, state_type FROM task_run WHERE flow_run_id = $1`,
        [flowRunId],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].state_type).toBe('RUNNING');
      expect(await states(rows[0].id)).toHaveLength(2);
    });

    it('should move a run whose id comes with a new natural key', async () => {
      const flowRunId = await insertFlowRun(ds);
      const otherFlowRun = await insertFlowRun(ds);
      const id = randomUUID();
      await sut.recordBulkTaskRunEvents([
        taskRunEvent({
          taskRunId: id,
          flowRunId,
          type: 'PENDING',
          occurred: at(0),
          taskRun: fullTaskRunPayload({ dynamic_key: '1' }),
        }),
      ]);
      await sut.recordBulkTaskRunEvents([
        taskRunEvent({
          taskRunId: id,
          flowRunId: otherFlowRun,
          type: 'RUNNING',
          occurred: at(1),
          taskRun: fullTaskRunPayload({ dynamic_key: '2' }),
        }),
      ]);
      expect(await run(id)).toMatchObject({
        flow_run_id: otherFlowRun,
        dynamic_key: '2',
        state_type: 'RUNNING',
      });
      expect(await states(id)).toHaveLength(2);
      // and detaching (no flow-run resource) clears flow_run_id
      await sut.recordBulkTaskRunEvents([
        taskRunEvent({
          taskRunId: id,
          type: 'COMPLETED',
          occurred: at(2),
          taskRun: fullTaskRunPayload({ dynamic_key: '2' }),
        }),
      ]);
      expect(await run(id)).toMatchObject({ flow_run_id: null, state_type: 'COMPLETED' });
    });

    it('should move a run to a new natural key within one batch', async () => {
      const flowRunId = await insertFlowRun(ds);
      const id = randomUUID();
      await sut.recordBulkTaskRunEvents([
        taskRunEvent({
          taskRunId: id,
          flowRunId,
          type: 'PENDING',
          occurred: at(0),
          taskRun: fullTaskRunPayload({ dynamic_key: 'x' }),
        }),
        taskRunEvent({
          taskRunId: id,
          flowRunId,
          type: 'RUNNING',
          occurred: at(1),
          taskRun: fullTaskRunPayload({ dynamic_key: 'y' }),
        }),
      ]);
      expect(await run(id)).toMatchObject({ dynamic_key: 'y', state_type: 'RUNNING' });
      expect(await states(id)).toHaveLength(2);
    });
  });

  it('should record a redelivered event once', async () => {
    const id = randomUUID();
    const [pending] = runLifecycle(id, null);
    const first = await sut.recordBulkTaskRunEvents([pending, pending]);
    const again = await sut.recordBulkTaskRunEvents([pending]);
    expect(first).toMatchObject({ events: 1, statesInserted: 1 });
    expect(again).toMatchObject({ events: 1, statesInserted: 0 });
    expect(await states(id)).toHaveLength(1);
  });

  it('should give a run without a state (NULL state_timestamp) the event state', async () => {
    const id = randomUUID();
    await ds.query(
      `INSERT INTO task_run (id, name, task_key, dynamic_key) VALUES ($1, 'n', 'my-task', '0')`,
      [id],
    );
    await sut.recordBulkTaskRunEvents([runLifecycle(id, null)[1]]);
    expect(await run(id)).toMatchObject({ state_type: 'RUNNING', name: 'my-task-0' });
  });

  it('should refuse a malformed event without writing anything', async () => {
    const good = runLifecycle(randomUUID(), null)[0];
    const bad = taskRunEvent({ taskRunId: randomUUID(), type: 'PENDING', occurred: at(0) });
    delete bad.payload.validated_state;
    await expect(sut.recordBulkTaskRunEvents([good, bad])).rejects.toThrow(InvalidTaskRunEventError);
    expect(await states(good.resource['prefect.resource.id'].slice('prefect.task-run.'.length))).toHaveLength(
      0,
    );
  });

  it('should fail (after its one retry) on an event naming a flow run that does not exist', async () => {
    const retries = sut.raceRetries;
    const event = runLifecycle(randomUUID(), randomUUID())[0];
    await expect(sut.recordBulkTaskRunEvents([event])).rejects.toMatchObject({
      driverError: { code: '23503' },
    });
    expect(sut.raceRetries).toBe(retries + 1);
  });

  it('should fail on a second state of one run at the same timestamp', async () => {
    const id = randomUUID();
    const [pending] = runLifecycle(id, null);
    await sut.recordBulkTaskRunEvents([pending]);
    const clash = taskRunEvent({ taskRunId: id, type: 'PENDING', occurred: pending.occurred });
    await expect(sut.recordBulkTaskRunEvents([clash])).rejects.toMatchObject({
      driverError: { code: '23505' },
    });
  });

  it('should write nothing of an attempt whose state rows fail, though COMMIT is sent behind them', async () => {
    const id = randomUUID();
    const [pending, running] = runLifecycle(id, null);
    await sut.recordBulkTaskRunEvents([pending]);
    // A state row at Running's timestamp that the recorder did not write: Running's state row will clash on
    // (task_run_id, timestamp) after its upsert moved the run to RUNNING in the same transaction.
    await ds.query(
      `INSERT INTO task_run_state (id, task_run_id, type, timestamp, name) VALUES ($1, $2, 'RUNNING', $3, 'Running')`,
      [randomUUID(), id, running.occurred],
    );
    await expect(sut.recordBulkTaskRunEvents([running])).rejects.toMatchObject({
      driverError: { code: '23505' },
    });
    const [row] = await ds.query<{ state_type: string; state_id: string }[]>(
      `SELECT state_type, state_id FROM task_run WHERE id = $1`,
      [id],
    );
    expect(row).toEqual({ state_type: 'PENDING', state_id: pending.id });
  });

  it('should retry an attempt that lost an integrity race with another recorder', async () => {
    const flowRunId = await insertFlowRun(ds);
    const id = randomUUID();
    // Another recorder inserts the run (id, dynamic_key 1) and has not committed yet.
    const other = await uncommittedRun({
      id,
      name: 'raced',
      flowRunId,
      dynamicKey: '1',
      stateType: 'PENDING',
      at: at(0),
    });
    try {
      // This recorder does not see it, picks the natural key (dynamic_key 2) and blocks on the id.
      const retries = sut.raceRetries;
      const event = taskRunEvent({
        taskRunId: id,
        flowRunId,
        type: 'RUNNING',
        occurred: at(1),
        taskRun: fullTaskRunPayload({ dynamic_key: '2' }),
      });
      const recording = sut.recordBulkTaskRunEvents([event]);
      await someoneWaitsForALock();
      await other.query('COMMIT');
      await expect(recording).resolves.toMatchObject({ attempts: 2 });
      expect(sut.raceRetries).toBe(retries + 1);
      expect(await run(id)).toMatchObject({ name: 'my-task-0', dynamic_key: '2', state_type: 'RUNNING' });
      expect(await states(id)).toHaveLength(1);
    } finally {
      await other.end();
    }
  });

  it('should attach the state of an older event to a newer run another recorder committed meanwhile', async () => {
    // The upsert does not update the other recorder's newer row and returns nothing for it: the event's state row
    // must still find that row (a one-statement write would see it only on its retry; docs/task-run-recorder.md,
    // "2026-12-06, second round").
    const flowRunId = await insertFlowRun(ds);
    const otherId = randomUUID();
    const other = await uncommittedRun({
      id: otherId,
      name: 'newer',
      flowRunId,
      dynamicKey: 'late',
      stateType: 'COMPLETED',
      at: at(5),
    });
    try {
      const event = taskRunEvent({
        taskRunId: randomUUID(),
        flowRunId,
        type: 'RUNNING',
        occurred: at(1),
        taskRun: fullTaskRunPayload({ dynamic_key: 'late' }),
      });
      const recording = sut.recordBulkTaskRunEvents([event]);
      await someoneWaitsForALock();
      await other.query('COMMIT');
      await expect(recording).resolves.toMatchObject({ runs: 1, statesInserted: 1 });
      expect(await run(otherId)).toMatchObject({ name: 'newer', state_type: 'COMPLETED' });
      const rows = await states(otherId);
      expect(rows.map((r) => [r.type, r.state_details.task_run_id])).toEqual([['RUNNING', otherId]]);
      const [{ n }] = await ds.query(
        `SELECT count(*)::int AS n FROM task_run WHERE flow_run_id = $1 AND dynamic_key = 'late'`,
        [flowRunId],
      );
      expect(n).toBe(1);
    } finally {
      await other.end();
    }
  });

  it('should write a batch larger than one statement can hold', async () => {
    const flowRunId = await insertFlowRun(ds);
    const events: ReceivedEvent[] = [];
    for (let i = 0; i < 1500; i++) {
      events.push(...runLifecycle(randomUUID(), flowRunId, i, 'big', String(i)));
    }
    const result = await sut.recordBulkTaskRunEvents(events);
    expect(result).toMatchObject({ events: 4500, runs: 1500, statesInserted: 4500, attempts: 1 });
    const [{ n }] = await ds.query(
      `SELECT count(*) AS n FROM task_run WHERE flow_run_id = $1 AND state_type = 'COMPLETED'`,
      [flowRunId],
    );
    expect(n).toBe(1500);
  });

  it('should let two recorders write overlapping batches concurrently without deadlock or duplicates', async () => {
    const second = await createTestApp({
      listen: false,
      databaseUrl: t.databaseUrl,
      env: { PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false' },
    });
    try {
      const other = new TaskRunBulkWriter(second.dataSource);
      const flowRuns = [await insertFlowRun(ds), await insertFlowRun(ds)];
      const events: ReceivedEvent[] = [];
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) {
        const id = randomUUID();
        ids.push(id);
        // a third of the runs have no flow run (id target), the rest share two flow runs (natural-key target)
        events.push(...runLifecycle(id, i % 3 === 0 ? null : flowRuns[i % 2], i * 10, 'race', String(i)));
      }
      // Each recorder gets every event (at-least-once redelivery), in its own order and batch cut.
      const feed = async (writer: TaskRunBulkWriter, seed: number, size: number) => {
        const mine = shuffle(events, seed);
        for (let i = 0; i < mine.length; i += size) {
          await writer.recordBulkTaskRunEvents(mine.slice(i, i + size));
        }
      };
      await Promise.all([feed(sut, 1, 50), feed(other, 2, 70), feed(sut, 3, 33), feed(other, 4, 100)]);
      const rows = await ds.query<{ id: string; state_type: string }[]>(
        `SELECT id, state_type FROM task_run WHERE task_key = 'race'`,
      );
      expect(rows).toHaveLength(300);
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
      expect(rows.every((r) => r.state_type === 'COMPLETED')).toBe(true);
      const [{ n }] = await ds.query(
        `SELECT count(*) AS n FROM task_run_state s JOIN task_run r ON r.id = s.task_run_id WHERE r.task_key = 'race'`,
      );
      expect(n).toBe(900);
    } finally {
      await second.close();
    }
  });

  it('should end every run at its latest event, whatever the arrival order, batching or ids (property)', async () => {
    const flowRunId = await insertFlowRun(ds);
    const STATES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED'] as const;
    const scenario = fc.record({
      runs: fc.array(
        fc.record({
          events: fc.array(
            fc.record({
              type: fc.constantFrom(...STATES),
              runCount: fc.nat(5),
              altId: fc.boolean(), // the same natural key under a second id
            }),
            { minLength: 1, maxLength: 4 },
          ),
          withFlowRun: fc.boolean(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      order: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
      cuts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 12, maxLength: 12 }),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ runs, order, cuts }) => {
        const dynamicBase = `prop-${n++}`;
        const all: { event: ReceivedEvent; run: number; t: number }[] = [];
        runs.forEach((run, r) => {
          const id = randomUUID();
          const alt = randomUUID();
          run.events.forEach((e, i) => {
            const t = i * 1000 + r;
            all.push({
              run: r,
              t,
              event: taskRunEvent({
                // without a flow run there is no natural key, so the second id would be a second run
                taskRunId: e.altId && run.withFlowRun ? alt : id,
                flowRunId: run.withFlowRun ? flowRunId : null,
                type: e.type,
                occurred: at(t),
                taskRun: fullTaskRunPayload({
                  task_key: 'prop',
                  dynamic_key: `${dynamicBase}-${r}`,
                  run_count: e.runCount,
                  tags: [`t${i}`],
                }),
              }),
            });
          });
        });
        const arrival = all
          .map((x, i) => ({ x, k: order[i % order.length] + i / 100 }))
          .sort((a, b) => a.k - b.k)
          .map((y) => y.x);
        for (let i = 0, c = 0; i < arrival.length; c++) {
          const size = cuts[c % cuts.length];
          await sut.recordBulkTaskRunEvents(arrival.slice(i, i + size).map((x) => x.event));
          i += size;
        }
        for (let r = 0; r < runs.length; r++) {
          const mine = all.filter((x) => x.run === r).sort((a, b) => a.t - b.t);
          const latest = mine[mine.length - 1].event;
          const rows = await ds.query(
            `SELECT r.*, (SELECT count(*) FROM task_run_state s WHERE s.task_run_id = r.id) AS states
               FROM task_run r WHERE task_key = 'prop' AND dynamic_key = $1`,
            [`${dynamicBase}-${r}`],
          );
          expect(rows).toHaveLength(1);
          expect(rows[0]).toMatchObject({
            state_id: latest.id,
            state_type: (latest.payload.validated_state as { type: string }).type,
            state_timestamp: latest.occurred,
            run_count: (latest.payload.task_run as { run_count: number }).run_count,
            tags: (latest.payload.task_run as { tags: string[] }).tags,
            states: mine.length,
          });
        }
      }),
      { numRuns: 40 },
    );
  });
});
