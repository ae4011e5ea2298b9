import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Pool } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { isStatementCheckFailure } from '../common/errors/db-errors';
import { TooManyRequestsError } from '../common/errors/domain.error';
import { AppConfig } from '../config/app-config';
import { poolDeadlines } from '../database/data-source-options';
import { preparedQuery } from '../database/prepared-query';
import { REPLICA_ID } from './replica-id';
import { notifyPayload, TASK_QUEUE_CHANNEL, TaskQueueListener, WaiterRegistry } from './task-queue.notifier';
import {
  Delivery,
  QueueItem,
  QueueLimits,
  ReturnReason,
  TaskQueueKind,
  TaskQueueStats,
  TaskQueueStore,
} from './task-queue.store';
import { TaskQueuesMetrics } from './task-queues.metrics';
import { TaskRunSnapshots } from './task-run-snapshots.port';

/** Runs per page when restoring deferred SCHEDULED runs at start-up (bounded statements). */
const RESTORE_PAGE = 500;

/** SQL for the NOTIFY payload of a `task_key` column (see `notifyPayload`). */
const PAYLOAD_SQL = `CASE WHEN octet_length(task_key) > 7000 THEN '*' ELSE task_key END`;
const RELEASE_SET = `status = 'queued', queue = 'retry', seq = nextval('task_queue_item_seq'),
  lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL`;
const CLAIM_SET = `status = 'leased', lease_owner = $2, lease_token = gen_random_uuid(),
  lease_expires_at = clock_timestamp() + make_interval(secs => $3), delivered_at = clock_timestamp(),
  attempts = q.attempts + 1`;
const CLAIM_RETURNING = `q.task_run_id, q.task_key, q.queue, q.snapshot, q.lease_token, q.attempts, q.enqueued_at`;

interface ClaimRow {
  task_run_id: string;
  task_key: string;
  queue: TaskQueueKind;
  snapshot: Record<string, unknown>;
  lease_token: string;
  attempts: number;
  enqueued_at: string;
}

/** A row of a delivery round: a claimed run, or (`acked_token` set) an acked one. */
interface RoundRow extends ClaimRow {
  acked_token: string | null;
}

interface PendingClaim {
  keys: readonly string[];
  resolve: (delivery: Delivery | null) => void;
  reject: (err: unknown) => void;
}

interface PendingAck {
  delivery: Delivery;
  resolve: (acked: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * Queues or re-queues one run unless its queue already holds `$5` other runs; then `chk` divides by zero, which
 * fails the statement (and the transaction: see `enqueue`). Fixed text, so it is prepared once per connection.
 */
const ENQUEUE_SQL = `WITH depth AS (
    SELECT count(*)::int AS n FROM (
      SELECT 1 FROM task_queue_item
      WHERE task_key = $2 AND queue = $3 AND status = 'queued' AND task_run_id <> $1
      LIMIT $5) s
  ), ins AS (
    INSERT INTO task_queue_item AS q (task_run_id, task_key, queue, snapshot)
    SELECT $1, $2, $3, $4::json WHERE (SELECT n FROM depth) < $5
    ON CONFLICT (task_run_id) DO UPDATE SET task_key = EXCLUDED.task_key, queue = EXCLUDED.queue,
      snapshot = EXCLUDED.snapshot, status = 'queued', seq = nextval('task_queue_item_seq'),
      enqueued_at = clock_timestamp(), attempts = 0, lease_owner = NULL, lease_token = NULL,
      lease_expires_at = NULL, delivered_at = NULL
    RETURNING task_key
  ), chk AS MATERIALIZED (SELECT 1 / (SELECT count(*)::int FROM ins) AS ok)
  SELECT chk.ok, (SELECT pg_notify('${TASK_QUEUE_CHANNEL}', $6) FROM ins) AS notified FROM chk`;

/**
 * `TaskQueueStore` on PostgreSQL (docs/reference.md, beyond upstream 1). The table `task_queue_item` is the truth:
 * - enqueue is an upsert inside the caller's transaction plus a transactional `pg_notify` (sent at commit);
 * - a claim leases one row with `FOR UPDATE SKIP LOCKED` (keys in subscription order, retry before
 *   scheduled, FIFO by sequence), so concurrent sockets and replicas never share a run;
 * - this replica renews the leases of its live deliveries; a crashed replica's leases expire after
 *   `PREFECT_SERVER_TASKS_SCHEDULING_DELIVERY_LEASE` and any replica's sweeper moves them to the retry queue;
 * - an ack turns the row into a tombstone (so restore does not redeliver an acked run whose state is still
 *   SCHEDULED); tombstones are purged once their run has left SCHEDULED.
 */
@Injectable()
export class PgTaskQueueStore
  extends TaskQueueStore
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(PgTaskQueueStore.name);
  private readonly waiters = new WaiterRegistry();
  private readonly keyLimits = new Map<string, QueueLimits>();
  /** Live deliveries of this replica: token → task key (their leases are renewed). */
  private readonly inFlight = new Map<string, string>();
  private listener?: TaskQueueListener;
  /** Delivery-path connections (claim, ack, release, sweep) with `synchronous_commit = off`, see `query`. */
  private pool?: Pool;
  private renewTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private lastPurge = 0;
  /** Start-up restore failed (e.g. a database hiccup): the sweeper tries again. */
  private restorePending = false;
  private stopping = false;
  /** Claims and acks waiting for the next delivery round (see `runRound`). */
  private readonly pendingClaims: PendingClaim[] = [];
  private readonly pendingAcks: PendingAck[] = [];
  private roundScheduled = false;
  /** The delivery round in flight, if any (one at a time: a second one in flight measured no faster). */
  private round?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly metrics: TaskQueuesMetrics,
    @Inject(REPLICA_ID) private readonly replicaId: string,
    private readonly taskRuns: TaskRunSnapshots,
  ) {
    super();
  }

  private get leaseSeconds(): number {
    return this.config.tasks.deliveryLease;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.stopping = false;
    this.metrics.collectWith(() => this.stats());
    const url = (this.dataSource.options as { url?: string }).url;
    if (url) {
      this.pool = new Pool({
        // Deadlines for connecting and for every query, as the app's own pool (docs/operating.md).
        ...poolDeadlines({
          connectTimeoutSeconds: this.config.database.connectTimeout,
          queryTimeoutSeconds: this.config.database.queryTimeout,
        }),
        connectionString: url,
        max: Math.max(2, Math.min(this.config.database.poolSize, 8)),
        idleTimeoutMillis: 30_000,
        application_name: `prefect-task-queue:${this.replicaId}`.slice(0, 63),
        options: '-c TimeZone=UTC -c synchronous_commit=off',
      });
      this.pool.on('error', (e: Error) => this.warn('pool connection', e));
      this.listener = new TaskQueueListener(
        url,
        `prefect-task-queue-listener:${this.replicaId}`.slice(0, 63),
        (payload) => this.waiters.wakeOne(payload),
        () => this.waiters.wakeAll(),
      );
      await this.listener.start();
    }
    await this.restoreOrRetryLater();
    const leaseMs = this.leaseSeconds * 1000;
    this.renewTimer = setInterval(
      () => void this.renewLeases().catch((e: unknown) => this.warn('renew', e)),
      leaseMs / 3,
    );
    this.sweepTimer = setInterval(
      () => {
        if (this.sweeping) {
          return;
        }
        this.sweeping = this.sweep()
          .then(() => undefined)
          .catch((e: unknown) => this.warn('sweep', e))
          .finally(() => (this.sweeping = undefined));
      },
      Math.min(Math.max(leaseMs / 2, 50), 1000),
    );
  }

  /** Stops intake; the sockets (TaskRunSubscriptionsService) return their own deliveries meanwhile. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.renewTimer);
    clearInterval(this.sweepTimer);
    this.waiters.wakeAll();
    await this.sweeping;
    await this.listener?.stop();
  }

  /** After every socket has finished: whatever this replica still holds goes back to the retry queue. */
  async onApplicationShutdown(): Promise<void> {
    // The sockets have finished; a round they started may still be writing.
    while (this.round || this.roundScheduled) {
      await (this.round ?? new Promise((r) => setImmediate(r)));
    }
    const released = await this.releaseOwned().catch((e: unknown) => {
      this.warn('release at shutdown', e);
      return 0;
    });
    if (released) {
      this.logger.log({ msg: 'returned unacked deliveries to the retry queue', count: released });
    }
    await this.pool?.end().catch(() => undefined);
    this.pool = undefined;
  }

  /**
   * Runs a delivery-path statement. These use their own connections with `synchronous_commit = off`: a
   * claim, ack or release lost to a PostgreSQL crash only means the run is delivered again (at least once,
   * as after a replica crash), while the enqueue itself commits durably in the caller's transaction.
   */
  private async query<T>(sql: string, params: unknown[] = [], name?: string): Promise<T[]> {
    if (!this.pool) {
      return this.dataSource.query<T[]>(sql, params);
    }
    // A named statement is parsed and planned once per connection: the round statement's planning cost as
    // much as its execution (docs/task-queues.md, "Delivery rounds").
    const result = await this.pool.query(
      name ? { name, text: sql, values: params } : { text: sql, values: params },
    );
    return result.rows as T[];
  }

  /** True while the LISTEN connection is up (readiness, tests). */
  get listening(): boolean {
    return this.listener?.isConnected ?? false;
  }

  configureTaskKey(taskKey: string, sizes: { scheduled?: number; retry?: number } = {}): void {
    this.keyLimits.set(taskKey, {
      scheduled: sizes.scheduled || this.config.tasks.maxScheduledQueueSize,
      retry: sizes.retry || this.config.tasks.maxRetryQueueSize,
    });
  }

  limitsFor(taskKey: string): QueueLimits {
    return (
      this.keyLimits.get(taskKey) ?? {
        scheduled: this.config.tasks.maxScheduledQueueSize,
        retry: this.config.tasks.maxRetryQueueSize,
      }
    );
  }

  /**
   * One named statement, sent before this returns (see the port): a full queue fails the statement itself
   * (`chk`, division by zero), so a COMMIT the caller pipelined behind it answers ROLLBACK and the run never
   * becomes deferred-SCHEDULED without its queue row (docs/performance.md, "Seventh round").
   */
  async enqueue(manager: EntityManager, item: QueueItem, queue: TaskQueueKind): Promise<void> {
    const limit = this.limitsFor(item.taskKey)[queue];
    const statement = preparedQuery(manager, 'tq_enqueue', ENQUEUE_SQL, [
      item.taskRunId,
      item.taskKey,
      queue,
      JSON.stringify(item.snapshot),
      limit,
      notifyPayload(item.taskKey),
    ]);
    try {
      await statement;
    } catch (err) {
      if (!isStatementCheckFailure(err)) {
        throw err;
      }
      this.metrics.refused.inc({ task_key: item.taskKey, queue });
      throw new TooManyRequestsError(
        `The ${queue} queue for task key '${item.taskKey}' is full (${limit} runs waiting); try again later.`,
        1,
      );
    }
    this.metrics.enqueued.inc({ task_key: item.taskKey, queue });
  }

  /**
   * Joins the next delivery round (see `runRound`): the run this returns was leased by one statement that
   * may also have served other sockets' claims and acks.
   */
  claim(keys: readonly string[]): Promise<Delivery | null> {
    if (this.stopping || keys.length === 0) {
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      this.pendingClaims.push({ keys, resolve, reject });
      this.scheduleRound();
    });
  }

  /** Joins the next delivery round (see `runRound`); settles when the statement carrying it has. */
  ack(delivery: Delivery): Promise<boolean> {
    this.inFlight.delete(delivery.token);
    return new Promise((resolve, reject) => {
      this.pendingAcks.push({ delivery, resolve, reject });
      this.scheduleRound();
    });
  }

  /** Starts a round after this turn of the event loop, unless one is in flight (it starts the next itself). */
  private scheduleRound(): void {
    if (this.roundScheduled || this.round) {
      return;
    }
    this.roundScheduled = true;
    setImmediate(() => {
      this.roundScheduled = false;
      this.round = this.runRound().finally(() => {
        this.round = undefined;
        if (this.pendingClaims.length || this.pendingAcks.length) {
          this.scheduleRound();
        }
      });
    });
  }

  /**
   * One delivery round (group commit, docs/task-queues.md "Delivery rounds"): every claim and ack requested
   * since the last round, by any socket of this replica, goes out in one statement per distinct key list (the
   * acks ride with the first). A statement leases at most one run per claim request, in request order, so a
   * socket never holds more than the one run it asked for: no socket can take a window of runs from the others.
   * Only one round is in flight; what arrives meanwhile waits for the next, which is what groups the requests.
   */
  private async runRound(): Promise<void> {
    const claims = this.pendingClaims.splice(0);
    const acks = this.pendingAcks.splice(0);
    const groups = new Map<string, PendingClaim[]>();
    for (const c of claims) {
      const signature = c.keys.join('\u0000');
      const group = groups.get(signature);
      if (group) {
        group.push(c);
      } else {
        groups.set(signature, [c]);
      }
    }
    const statements = [...groups.values()].map((group, i) => this.claimAndAck(group, i === 0 ? acks : []));
    if (statements.length === 0) {
      statements.push(this.claimAndAck([], acks));
    }
    await Promise.all(statements);
  }

  /** Leases one run per request of `claims` (all with the same keys) and acks `acks`, in one statement. */
  private async claimAndAck(claims: PendingClaim[], acks: PendingAck[]): Promise<void> {
    const keys = claims[0]?.keys ?? [];
    const next =
      keys.length === 1
        ? `SELECT task_run_id FROM task_queue_item WHERE task_key = ($1::text[])[1] AND status = 'queued'
           ORDER BY queue, seq LIMIT $4 FOR UPDATE SKIP LOCKED`
        : `SELECT task_run_id FROM task_queue_item WHERE task_key = ANY($1::text[]) AND status = 'queued'
           ORDER BY array_position($1::text[], task_key), queue, seq LIMIT $4 FOR UPDATE SKIP LOCKED`;
    let rows: RoundRow[];
    try {
      rows = await this.query<RoundRow>(
        `WITH acked AS (
           UPDATE task_queue_item q SET status = 'acked', snapshot = '{}'::json, lease_owner = NULL,
             lease_token = NULL, lease_expires_at = NULL
           FROM unnest($5::uuid[], $6::uuid[]) AS a(task_run_id, lease_token)
           WHERE q.task_run_id = a.task_run_id AND q.lease_token = a.lease_token AND q.status = 'leased'
           RETURNING q.task_run_id, a.lease_token AS acked_token),
         next AS (${next}),
         claimed AS (
           UPDATE task_queue_item q SET ${CLAIM_SET} FROM next WHERE q.task_run_id = next.task_run_id
           RETURNING ${CLAIM_RETURNING}, array_position($1::text[], q.task_key) AS pos, q.seq)
         SELECT c.task_run_id, c.task_key, c.queue, c.snapshot, c.lease_token, c.attempts, c.enqueued_at,
                NULL::uuid AS acked_token, c.pos, c.seq
         FROM claimed c
         UNION ALL
         SELECT a.task_run_id, NULL, NULL, NULL, NULL, NULL, NULL, a.acked_token, NULL, NULL FROM acked a
         ORDER BY pos, queue, seq`,
        [
          keys,
          this.replicaId,
          this.leaseSeconds,
          claims.length,
          acks.map((a) => a.delivery.taskRunId),
          acks.map((a) => a.delivery.token),
        ],
        keys.length === 1 ? 'task_queue_round_one_key' : 'task_queue_round_keys',
      );
    } catch (err) {
      for (const r of [...claims, ...acks]) {
        r.reject(err);
      }
      return;
    }
    const ackedTokens = new Set<string>();
    const claimed: Delivery[] = [];
    for (const row of rows) {
      if (row.acked_token) {
        ackedTokens.add(row.acked_token);
        continue;
      }
      this.inFlight.set(row.lease_token, row.task_key);
      // There may be more: pass the wake-up on to the next waiter on this key (see WaiterRegistry).
      this.waiters.wakeOne(row.task_key);
      claimed.push({
        taskRunId: row.task_run_id,
        taskKey: row.task_key,
        snapshot: row.snapshot,
        queue: row.queue,
        token: row.lease_token,
        attempts: row.attempts,
        enqueuedAt: row.enqueued_at,
      });
    }
    // Runs in queue order to requests in arrival order: the earliest request gets the earliest run.
    claims.forEach((c, i) => c.resolve(claimed[i] ?? null));
    for (const a of acks) {
      const ok = ackedTokens.has(a.delivery.token);
      if (ok) {
        this.metrics.acks.inc({ task_key: a.delivery.taskKey });
      }
      a.resolve(ok);
    }
  }

  async unclaim(delivery: Delivery): Promise<boolean> {
    this.inFlight.delete(delivery.token);
    const rows = await this.query<unknown>(
      `WITH released AS (
         UPDATE task_queue_item SET status = 'queued', attempts = greatest(attempts - 1, 0), lease_owner = NULL,
           lease_token = NULL, lease_expires_at = NULL, delivered_at = NULL
         WHERE task_run_id = $1 AND lease_token = $2 AND status = 'leased' RETURNING task_key)
       SELECT pg_notify('${TASK_QUEUE_CHANNEL}', ${PAYLOAD_SQL}) FROM released`,
      [delivery.taskRunId, delivery.token],
    );
    return rows.length > 0;
  }

  async retry(delivery: Delivery, reason: ReturnReason): Promise<boolean> {
    this.inFlight.delete(delivery.token);
    const rows = await this.query<unknown>(
      `WITH released AS (
         UPDATE task_queue_item SET ${RELEASE_SET}
         WHERE task_run_id = $1 AND lease_token = $2 AND status = 'leased' RETURNING task_key)
       SELECT pg_notify('${TASK_QUEUE_CHANNEL}', ${PAYLOAD_SQL}) FROM released`,
      [delivery.taskRunId, delivery.token],
    );
    if (rows.length) {
      this.metrics.returnedFor(delivery.taskKey, reason);
    }
    return rows.length > 0;
  }

  waitForWork(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.stopping) {
      return Promise.resolve();
    }
    return this.waiters.wait(keys, timeoutMs, signal);
  }

  async stats(): Promise<TaskQueueStats[]> {
    const rows: {
      task_key: string;
      scheduled: number;
      retry: number;
      in_flight: number;
      oldest_age: number | null;
    }[] = await this.query(
      `SELECT task_key,
         count(*) FILTER (WHERE status = 'queued' AND queue = 'scheduled')::int AS scheduled,
         count(*) FILTER (WHERE status = 'queued' AND queue = 'retry')::int AS retry,
         count(*) FILTER (WHERE status = 'leased')::int AS in_flight,
         extract(epoch FROM clock_timestamp() - min(enqueued_at) FILTER (WHERE status = 'queued'))::float8
           AS oldest_age
       FROM task_queue_item WHERE status <> 'acked' GROUP BY task_key ORDER BY task_key`,
    );
    return rows.map((r) => ({
      taskKey: r.task_key,
      scheduled: r.scheduled,
      retry: r.retry,
      inFlight: r.in_flight,
      oldestAgeSeconds: r.oldest_age,
    }));
  }

  async reset(): Promise<void> {
    this.keyLimits.clear();
    this.inFlight.clear();
    await this.query(`DELETE FROM task_queue_item`);
  }

  /**
   * The seed's `restore_scheduled_tasks_if_necessary`, made durable: deferred SCHEDULED runs without a flow
   * run that have no queue row (queued before this table existed, or whose row was lost) go to their key's
   * retry queue, as upstream once did. Runs already queued, in flight or acked keep their row. Unacked
   * deliveries of a crashed replica come back through lease expiry (`sweep`). Safe on every replica at once.
   */
  async restoreScheduledTasksIfNecessary(): Promise<number> {
    let count = 0;
    let after: { stateTimestamp: string; id: string } | null = null;
    for (;;) {
      const page = await this.taskRuns.deferredScheduledRuns(after, RESTORE_PAGE, Date.now() * 1000);
      if (!page.length) {
        break;
      }
      const rows = await this.query<{ task_key: string; n: number }>(
        `WITH restored AS (
           INSERT INTO task_queue_item (task_run_id, task_key, queue, snapshot)
           SELECT x.task_run_id, x.task_key, 'retry', x.snapshot
             FROM ROWS FROM (json_to_recordset($1::json) AS (task_run_id uuid, task_key text, snapshot json))
                  WITH ORDINALITY AS x(task_run_id, task_key, snapshot, ord)
            ORDER BY x.ord
           ON CONFLICT (task_run_id) DO NOTHING
           RETURNING task_key)
         SELECT task_key, n, pg_notify('${TASK_QUEUE_CHANNEL}', ${PAYLOAD_SQL})
         FROM (SELECT task_key, count(*)::int AS n FROM restored GROUP BY task_key) k`,
        [
          JSON.stringify(
            page.map((r) => ({ task_run_id: r.taskRunId, task_key: r.taskKey, snapshot: r.snapshot })),
          ),
        ],
      );
      count += rows.reduce((sum, r) => sum + r.n, 0);
      const last = page[page.length - 1];
      after = { stateTimestamp: last.stateTimestamp, id: last.taskRunId };
      if (page.length < RESTORE_PAGE) {
        break;
      }
    }
    if (count) {
      this.metrics.restored.inc(count);
      this.logger.log({ msg: 'restored scheduled task runs', count });
    }
    return count;
  }

  private async restoreOrRetryLater(): Promise<void> {
    try {
      await this.restoreScheduledTasksIfNecessary();
      this.restorePending = false;
    } catch (err) {
      this.restorePending = true;
      this.warn('restore of scheduled task runs (will retry)', err);
    }
  }

  /** Moves expired leases to the retry queue (and now and then purges tombstones of runs gone on). */
  async sweep(): Promise<number> {
    if (this.restorePending) {
      await this.restoreOrRetryLater();
    }
    const rows = await this.query<{ task_key: string; n: number }>(
      `WITH expired AS (
         UPDATE task_queue_item SET ${RELEASE_SET}
         WHERE task_run_id IN (
           SELECT task_run_id FROM task_queue_item
           WHERE status = 'leased' AND lease_expires_at < clock_timestamp()
           ORDER BY lease_expires_at LIMIT 500 FOR UPDATE SKIP LOCKED)
         RETURNING task_key)
       SELECT task_key, n, pg_notify('${TASK_QUEUE_CHANNEL}', ${PAYLOAD_SQL})
       FROM (SELECT task_key, count(*)::int AS n FROM expired GROUP BY task_key) k`,
    );
    let total = 0;
    for (const r of rows) {
      total += r.n;
      this.metrics.returned.inc({ task_key: r.task_key, reason: 'lease_expired' }, r.n);
    }
    if (total) {
      this.logger.warn({ msg: 'expired deliveries returned to the retry queue', count: total });
    }
    if (Date.now() - this.lastPurge > 60_000) {
      this.lastPurge = Date.now();
      await this.purgeTombstones();
    }
    return total;
  }

  /** Deletes (in a bounded batch) ack tombstones whose run is no longer SCHEDULED. */
  async purgeTombstones(): Promise<void> {
    const acked = await this.query<{ task_run_id: string }>(
      `SELECT task_run_id FROM task_queue_item WHERE status = 'acked' LIMIT 1000`,
    );
    if (!acked.length) {
      return;
    }
    const ids = acked.map((r) => r.task_run_id);
    const scheduled = await this.taskRuns.stillScheduled(ids);
    const gone = ids.filter((id) => !scheduled.has(id));
    if (gone.length) {
      await this.query(
        `DELETE FROM task_queue_item WHERE task_run_id = ANY($1::uuid[]) AND status = 'acked'`,
        [gone],
      );
    }
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0) {
      return;
    }
    await this.query(
      `UPDATE task_queue_item SET lease_expires_at = clock_timestamp() + make_interval(secs => $2)
       WHERE lease_token = ANY($1::uuid[]) AND status = 'leased'`,
      [[...this.inFlight.keys()], this.leaseSeconds],
    );
  }

  private async releaseOwned(): Promise<number> {
    this.inFlight.clear();
    const rows = await this.query<unknown>(
      `WITH released AS (
         UPDATE task_queue_item SET ${RELEASE_SET} WHERE lease_owner = $1 AND status = 'leased' RETURNING task_key)
       SELECT pg_notify('${TASK_QUEUE_CHANNEL}', ${PAYLOAD_SQL}) FROM released`,
      [this.replicaId],
    );
    return rows.length;
  }

  private warn(what: string, err: unknown): void {
    this.logger.warn({
      msg: `task queue ${what} failed`,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
