import { randomUUID } from 'node:crypto';
import { PgTaskQueueStore } from '../../src/task-queues/pg-task-queue.store';
import { Delivery, TaskQueueKind, TaskQueueStore } from '../../src/task-queues/task-queue.store';
import { enqueueRun } from '../factories/task-run.sql';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';

/**
 * The PostgreSQL delivery store through its port (claim / ack / retry / unclaim), on a real database, with
 * two app instances ("replicas") sharing it. No sockets: what is asserted is the store's SQL, which the
 * websocket tests only see through one key at a time.
 */
jest.setTimeout(60_000);

interface QueueRow {
  status: string;
  queue: string;
  attempts: number;
  lease_token: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
}

describe(PgTaskQueueStore.name, () => {
  let a: TestApp;
  let b: TestApp;
  let storeA: PgTaskQueueStore;
  let storeB: PgTaskQueueStore;

  const key = (): string => `tasks.${randomUUID().slice(0, 8)}`;
  const enqueue = (taskKey: string, queue: TaskQueueKind = 'scheduled'): Promise<string> =>
    enqueueRun(a.dataSource, storeA, taskKey, queue);
  const row = async (id: string): Promise<QueueRow | undefined> => {
    const rows: QueueRow[] = await a.dataSource.query(
      `SELECT status, queue, attempts, lease_token::text, lease_owner, lease_expires_at::text
       FROM task_queue_item WHERE task_run_id = $1`,
      [id],
    );
    return rows[0];
  };
  const claimOrFail = async (store: PgTaskQueueStore, keys: string[]): Promise<Delivery> => {
    const d = await store.claim(keys);
    if (!d) {
      throw new Error(`nothing to claim for ${keys.join(', ')}`);
    }
    return d;
  };

  beforeAll(async () => {
    a = await createTestApp({ listen: false });
    b = await createTestApp({ listen: false, databaseUrl: a.databaseUrl });
    storeA = a.app.get(TaskQueueStore);
    storeB = b.app.get(TaskQueueStore);
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("should serve each key's retry queue before its scheduled queue, keys in subscription order", async () => {
    const [k1, k2, other] = [key(), key(), key()];
    // Enqueue order deliberately differs from the expected claim order: the oldest run of all is k2's
    // retry run, and k1's retry run is the newest.
    const r2 = await enqueue(k2, 'retry');
    const s2 = await enqueue(k2);
    await enqueue(other, 'retry');
    const s1a = await enqueue(k1);
    const s1b = await enqueue(k1);
    const r1 = await enqueue(k1, 'retry');

    const claimed: Delivery[] = [];
    for (let i = 0; i < 5; i++) {
      claimed.push(await claimOrFail(storeA, [k1, k2]));
    }
    expect(claimed.map((d) => [d.taskRunId, d.queue])).toEqual([
      [r1, 'retry'],
      [s1a, 'scheduled'],
      [s1b, 'scheduled'],
      [r2, 'retry'],
      [s2, 'scheduled'],
    ]);
    expect(await storeA.claim([k1, k2])).toBeNull(); // the other key's run is not theirs
    for (const d of claimed) {
      expect(await storeA.ack(d)).toBe(true);
    }
  });

  it("should make a stale delivery's ack, retry and unclaim no-ops once its lease expired and another replica claimed the run", async () => {
    const k = key();
    const id = await enqueue(k);
    const stale = await claimOrFail(storeA, [k]);
    expect(stale).toMatchObject({ taskRunId: id, queue: 'scheduled', attempts: 1 });

    // Replica A stalls: its lease runs out and replica B's sweeper returns the run to the retry queue.
    // (A's renewal timer may extend the lease in between, so expire and sweep until the sweep has it.)
    await expectEventually(async () => {
      await a.dataSource.query(
        `UPDATE task_queue_item SET lease_expires_at = clock_timestamp() - interval '1 second'
         WHERE task_run_id = $1 AND status = 'leased'`,
        [id],
      );
      await storeB.sweep();
      expect(await row(id)).toMatchObject({ status: 'queued', queue: 'retry', lease_token: null });
    });

    const current = await claimOrFail(storeB, [k]);
    expect(current).toMatchObject({ taskRunId: id, queue: 'retry', attempts: 2 });
    expect(current.token).not.toBe(stale.token);
    const leased = await row(id);
    expect(leased).toMatchObject({ status: 'leased', lease_token: current.token });

    // The old delivery's worker answers late: nothing it does may touch the new lease.
    expect(await storeA.ack(stale)).toBe(false);
    expect(await storeA.retry(stale, 'closed')).toBe(false);
    expect(await storeA.unclaim(stale)).toBe(false);
    expect(await row(id)).toEqual(leased);

    expect(await storeB.ack(current)).toBe(true);
    expect(await row(id)).toMatchObject({ status: 'acked', lease_token: null, attempts: 2 });
    expect(await storeB.ack(current)).toBe(false); // and an ack counts once
  });

  it('should purge ack tombstones of runs that left SCHEDULED, keeping the rest', async () => {
    const k = key();
    const [stillScheduled, completed, running, inFlight, queued] = [
      await enqueue(k),
      await enqueue(k),
      await enqueue(k),
      await enqueue(k),
      await enqueue(k),
    ];
    const deliveries = new Map<string, Delivery>();
    for (let i = 0; i < 4; i++) {
      const d = await claimOrFail(storeA, [k]);
      deliveries.set(d.taskRunId, d);
    }
    for (const id of [stillScheduled, completed, running]) {
      expect(await storeA.ack(deliveries.get(id)!)).toBe(true);
    }
    const setStateType = (id: string, type: string) =>
      a.dataSource.query(`UPDATE task_run SET state_type = $2 WHERE id = $1`, [id, type]);
    await setStateType(completed, 'COMPLETED');
    await setStateType(running, 'RUNNING');
    // Not tombstones, though their runs have moved on: an unacked delivery and a queued run.
    await setStateType(inFlight, 'RUNNING');
    await setStateType(queued, 'RUNNING');

    await storeA.purgeTombstones();

    const rows: { task_run_id: string; status: string }[] = await a.dataSource.query(
      `SELECT task_run_id, status FROM task_queue_item WHERE task_key = $1 ORDER BY task_run_id`,
      [k],
    );
    expect(rows).toEqual(
      [
        { task_run_id: stillScheduled, status: 'acked' },
        { task_run_id: inFlight, status: 'leased' },
        { task_run_id: queued, status: 'queued' },
      ].sort((x, y) => (x.task_run_id < y.task_run_id ? -1 : 1)),
    );
    expect(await storeA.ack(deliveries.get(inFlight)!)).toBe(true);
  });
  // Delivery rounds (docs/task-queues.md): the claims and acks that several sockets of a replica make at
  // once go out in one statement. Rows written by one statement share their `xmin` (its transaction id).
  const xmins = async (ids: string[]): Promise<Set<string>> => {
    const rows: { xmin: string }[] = await a.dataSource.query(
      `SELECT xmin::text AS xmin FROM task_queue_item WHERE task_run_id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(ids.length);
    return new Set(rows.map((r) => r.xmin));
  };

  it('should lease concurrent claims in one statement, one run per request, the earliest run to the earliest request', async () => {
    const [k, other] = [key(), key()];
    const runs: string[] = [];
    for (let i = 0; i < 3; i++) {
      runs.push(await enqueue(k));
    }
    const otherRun = await enqueue(other);

    // Five sockets ask at once (two on another key list); only three runs of k are queued.
    const claimed = await Promise.all([
      storeA.claim([k]),
      storeA.claim([k]),
      storeA.claim([other, k]),
      storeA.claim([k]),
      storeA.claim([k]),
    ]);

    expect(claimed.map((d) => d?.taskRunId ?? null)).toEqual([runs[0], runs[1], otherRun, runs[2], null]);
    expect(await xmins(runs)).toHaveProperty('size', 1);
    for (const d of claimed) {
      if (d) {
        expect(await row(d.taskRunId)).toMatchObject({ status: 'leased', attempts: 1, lease_token: d.token });
        expect(await storeA.ack(d)).toBe(true);
      }
    }
  });

  it('should ack the runs of several sockets in one statement, each ack settling its own run', async () => {
    const k = key();
    const ids = [await enqueue(k), await enqueue(k), await enqueue(k), await enqueue(k)];
    const deliveries: Delivery[] = [];
    for (let i = 0; i < ids.length; i++) {
      deliveries.push(await claimOrFail(storeA, [k]));
    }
    const [d1, d2, d3, d4] = deliveries;

    // Three current acks, a stale one (another token for d3's run) and a claim, all at once.
    const [ok1, ok2, stale, ok3, nothing] = await Promise.all([
      storeA.ack(d1),
      storeA.ack(d2),
      storeA.ack({ ...d3, token: randomUUID() }),
      storeA.ack(d3),
      storeA.claim([k]),
    ]);

    expect([ok1, ok2, stale, ok3, nothing]).toEqual([true, true, false, true, null]);
    expect(await xmins([d1.taskRunId, d2.taskRunId, d3.taskRunId])).toHaveProperty('size', 1);
    for (const d of [d1, d2, d3]) {
      expect(await row(d.taskRunId)).toMatchObject({ status: 'acked', lease_token: null });
    }
    expect(await row(d4.taskRunId)).toMatchObject({ status: 'leased', lease_token: d4.token });
    expect(await storeA.ack(d1)).toBe(false); // an ack counts once
    expect(await storeA.ack(d4)).toBe(true);
  });
});
