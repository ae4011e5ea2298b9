import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client, ClientConfig, Pool } from 'pg';
import { deferred, Deferred } from '../../common/async/deferred';
import { ServiceUnavailableError, TooManyRequestsError } from '../../common/errors/domain.error';
import { DeadlineClient } from '../../database/deadline-client';
import { EncodedEvents, encodeEvents } from '../encoded-events';
import { ReceivedEvent } from '../event.types';
import { BusObserver, NOOP_OBSERVER } from './bus-observer';
import { armTrimTimer, trackSubscription } from './bus-subscriptions';
import {
  BusPressure,
  EPHEMERAL_GROUP_PREFIX,
  EventBus,
  EventHandler,
  SubscribeOptions,
  Subscription,
} from './event-bus';

export interface PostgresEventBusOptions {
  /** A publish waits at most this long for others to share its commit (ms). */
  commitWindowMs?: number;
  /** Events per append statement at most (a larger group commit is split). */
  maxBatch?: number;
  /** Events waiting for their commit at most; past it `publish` refuses with 429. */
  maxPending?: number;
  /** Append statements in flight at once (they serialise in the database; 2 overlaps one's round trip). */
  concurrentAppends?: number;
  /** Client-side deadline of every query (ms); the server-side statement_timeout is the same. */
  queryTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Without a NOTIFY, a consumer looks at the log this often (ms). */
  pollIntervalMs?: number;
  /** Rows read per query at most. */
  readCount?: number;
  /** Redeliveries of an event whose handler rejected, before it is dead-lettered. */
  maxRetries?: number;
  retryDelayMs?: number;
  /** A consumer's settled position is written at most this often (ms). */
  savePositionEveryMs?: number;
  /** A standby consumer tries to take its group over this often (ms). */
  takeoverEveryMs?: number;
  /** Trimming of rows every group has passed: how often (ms; 0 = never) and rows per DELETE. */
  trimEveryMs?: number;
  trimBatch?: number;
  /** A group whose position has not moved or been refreshed for this long holds back neither trimming nor ingestion (ms). */
  staleGroupMs?: number;
  /** How often the backlog behind `pressure()` is measured (ms). */
  backlogEveryMs?: number;
}

export const EVENT_LOG_CHANNEL = 'prefect_event_log';

/**
 * One append = one statement = one commit; NOTIFY is delivered at that commit. `$1` is the events' JSON
 * array as bytes (`appendParameter`; node-postgres sends a Buffer in binary format, which for `json` is
 * the text itself). A `json[]` parameter expanded by unnest measured no faster (docs/events.md).
 */
const APPEND_SQL = `
WITH ins AS (
  INSERT INTO event_log (event, only_group)
  SELECT e.value, $2::text FROM json_array_elements($1::json) AS e
  RETURNING position
)
SELECT pg_notify('${EVENT_LOG_CHANNEL}', max(position)::text) AS head FROM ins`;

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** The JSON array of the publishes' events, joined without decoding them (see EncodedEvents). */
function appendParameter(parts: readonly EncodedEvents[]): Buffer {
  const chunks: Buffer[] = [OPEN];
  for (const p of parts) {
    if (p.count > 0) {
      if (chunks.length > 1) {
        chunks.push(COMMA);
      }
      chunks.push(p.bytes);
    }
  }
  chunks.push(CLOSE);
  return Buffer.concat(chunks);
}

const READ_SQL = `SELECT position, only_group, event FROM event_log WHERE position > $1 ORDER BY position LIMIT $2`;

interface PendingAppend {
  count: number;
  /** Only when not `encoded`: the log needs the objects of an encoded publish no more (they can die young). */
  events?: ReceivedEvent[];
  encoded?: EncodedEvents;
  done: Deferred<void>;
}

type Required2 = Required<PostgresEventBusOptions>;

/**
 * The default, durable event bus (`PREFECT_SERVER_EVENTS_MESSAGING_BROKER=postgres`; design and trade-offs in
 * docs/adr/0005-postgres-event-log.md).
 *
 * - **Publish = group commit.** Concurrent publishes wait at most `commitWindowMs` (or until `maxBatch` events
 *   are waiting) and share one `INSERT … SELECT FROM json_array_elements($1)` statement, i.e. one commit; each
 *   publish resolves only after that COMMIT, so whatever a caller acknowledges survives SIGKILL.
 * - **A log that is read in order.** A statement trigger serialises appends (advisory transaction lock taken
 *   before any row gets its position, held to commit), so positions become visible in increasing order and a
 *   consumer that has read up to position p can never later find a smaller one committed.
 * - **Consumer groups** keep their position in `event_log_group`. One consumer per group delivers at a time (a
 *   session advisory lock on its own connection; other processes stand by and take over when it dies). The
 *   position advances only over the prefix of events whose handlers settled (at-least-once).
 * - **Wake-ups** by LISTEN/NOTIFY, with a poll every `pollIntervalMs` in case a notification is lost.
 * - **Trimming** in bounded DELETE batches up to the slowest live group.
 * - **Bounded:** pending appends (`maxPending`, then 429), events in flight per consumer (`maxInFlight`),
 *   and every query has a client-side deadline and a server-side statement timeout.
 */
export class PostgresEventBus extends EventBus implements OnApplicationShutdown {
  private readonly logger = new Logger(PostgresEventBus.name);
  private readonly opts: Required2;
  private readonly pool: Pool;
  private readonly clientConfig: ClientConfig;
  private readonly subscriptions = new Set<PgSubscription>();
  private pending: PendingAppend[] = [];
  private pendingEvents = 0;
  private appending = 0;
  private windowTimer?: NodeJS.Timeout;
  private closing = false;
  private listener?: Client;
  private listenerStarting?: Promise<void>;
  private trimTimer?: NodeJS.Timeout;
  private measuredBacklog: Record<string, number> = {};
  private backlogMeasuredAt = 0;
  private measuringBacklog = false;
  private idleWaiters: (() => void)[] = [];
  /** Called after each committed append with its size and duration (waiting for a connection included). */
  appendTimer?: (events: number, ms: number) => void;

  constructor(
    url: string,
    options: PostgresEventBusOptions = {},
    private readonly observer: BusObserver = NOOP_OBSERVER,
  ) {
    super();
    this.opts = {
      commitWindowMs: options.commitWindowMs ?? 2,
      maxBatch: options.maxBatch ?? 2000,
      maxPending: options.maxPending ?? 20_000,
      concurrentAppends: options.concurrentAppends ?? 2,
      queryTimeoutMs: options.queryTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      readCount: options.readCount ?? 1000,
      maxRetries: options.maxRetries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 100,
      savePositionEveryMs: options.savePositionEveryMs ?? 50,
      takeoverEveryMs: options.takeoverEveryMs ?? 1000,
      trimEveryMs: options.trimEveryMs ?? 10_000,
      trimBatch: options.trimBatch ?? 5000,
      staleGroupMs: options.staleGroupMs ?? 24 * 3600_000,
      backlogEveryMs: options.backlogEveryMs ?? 250,
    };
    const timeout = this.opts.queryTimeoutMs;
    this.clientConfig = {
      connectionString: url,
      application_name: 'prefect-event-log',
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      query_timeout: timeout,
      statement_timeout: timeout,
      options: '-c TimeZone=UTC',
      keepAlive: true,
    };
    // Pooled connections destroy themselves on a missed deadline (a frozen server), see DeadlineClient.
    this.pool = new Pool({
      ...this.clientConfig,
      Client: DeadlineClient,
      max: this.opts.concurrentAppends + 2,
      idleTimeoutMillis: 30_000,
    });
    this.pool.on('error', (err) => this.logger.warn({ msg: 'idle connection failed', error: err.message }));
  }

  get options(): Readonly<Required2> {
    return this.opts;
  }

  /** Runs one query through the bus's pool (deadline included). */
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const result = await this.pool.query(sql, params);
    return result.rows as T[];
  }

  async publish(events: ReceivedEvent[], encoded?: EncodedEvents): Promise<void> {
    if (!events.length) {
      return;
    }
    if (this.closing) {
      throw new ServiceUnavailableError('Shutting down: events are not accepted any more');
    }
    if (this.pendingEvents > 0 && this.pendingEvents + events.length > this.opts.maxPending) {
      throw new TooManyRequestsError(
        `Event queue full: ${this.pendingEvents} events are waiting for their commit; retry later.`,
        1,
      );
    }
    const item: PendingAppend = {
      count: events.length,
      events: encoded ? undefined : events,
      encoded,
      done: deferred<void>(),
    };
    this.pending.push(item);
    this.pendingEvents += events.length;
    if (this.pendingEvents >= this.opts.maxBatch) {
      this.pump();
    } else {
      this.windowTimer ??= setTimeout(() => this.pump(), this.opts.commitWindowMs);
    }
    return item.done.promise;
  }

  /** Starts appends while there is something pending and a free slot. */
  private pump(): void {
    if (this.windowTimer) {
      clearTimeout(this.windowTimer);
      this.windowTimer = undefined;
    }
    while (this.pending.length && this.appending < this.opts.concurrentAppends) {
      const batch: PendingAppend[] = [];
      let n = 0;
      while (this.pending.length && (n === 0 || n + this.pending[0].count <= this.opts.maxBatch)) {
        const item = this.pending.shift()!;
        batch.push(item);
        n += item.count;
      }
      this.pendingEvents -= n;
      this.appending += 1;
      void this.append(batch).finally(() => {
        this.appending -= 1;
        if (this.pending.length) {
          this.pump();
        } else if (this.appending === 0) {
          for (const w of this.idleWaiters.splice(0)) {
            w();
          }
        }
      });
    }
  }

  private async append(batch: PendingAppend[]): Promise<void> {
    try {
      const parts = batch.map((b) => b.encoded ?? encodeEvents(b.events!));
      const events = parts.reduce((n, p) => n + p.count, 0);
      const started = performance.now();
      await this.pool.query(APPEND_SQL, [appendParameter(parts), null]);
      this.appendTimer?.(events, performance.now() - started);
      for (const b of batch) {
        b.done.resolve();
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.logger.warn({ msg: 'append failed', events: batch.length, error: reason });
      const refused = new ServiceUnavailableError(`The event log is unavailable (${reason}); retry later.`);
      for (const b of batch) {
        b.done.reject(refused);
      }
    }
  }

  async redeliver(group: string, event: ReceivedEvent): Promise<void> {
    await this.pool.query(APPEND_SQL, [appendParameter([encodeEvents([event])]), group]);
  }

  async subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    if (this.closing) {
      throw new Error('the event bus is closing');
    }
    await this.ensureListener();
    const ephemeral = options.group.startsWith(EPHEMERAL_GROUP_PREFIX);
    const sub = new PgSubscription(this, handler, options, ephemeral, this.opts, this.observer);
    if (ephemeral) {
      const rows = await this.query<{ head: number }>(
        `SELECT coalesce(max(position), 0) AS head FROM event_log`,
      );
      sub.startAt(Number(rows[0].head));
    } else {
      await this.query(`INSERT INTO event_log_group (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [
        options.group,
      ]);
    }
    const handle = trackSubscription(this.subscriptions, sub);
    if (!ephemeral) {
      this.trimTimer ??= armTrimTimer(this.opts.trimEveryMs, () => this.trim(), this.logger);
    }
    return handle;
  }

  /** A new client with the bus's deadlines, for a consumer's own session (its group lock). */
  newClient(): Client {
    return new Client(this.clientConfig);
  }

  private ensureListener(): Promise<void> {
    if (this.listener) {
      return Promise.resolve();
    }
    this.listenerStarting ??= (async () => {
      const client = this.newClient();
      client.on('notification', () => {
        for (const s of this.subscriptions) {
          s.wake();
        }
      });
      client.on('error', (err) => {
        this.logger.warn({ msg: 'listener connection failed; polling until it is back', error: err.message });
        if (this.listener === client) {
          this.listener = undefined;
        }
        void client.end().catch(() => undefined);
        if (!this.closing) {
          setTimeout(() => void this.ensureListener().catch(() => undefined), 1000).unref();
        }
      });
      await client.connect();
      await client.query(`LISTEN ${EVENT_LOG_CHANNEL}`);
      this.listener = client;
    })().finally(() => (this.listenerStarting = undefined));
    return this.listenerStarting;
  }

  /** Per live durable group: events not yet settled (head − saved position). */
  async backlog(): Promise<Record<string, number>> {
    const rows = await this.query<{ name: string; backlog: number }>(
      // A group's backlog counts from its position, or from the oldest row still in the log if that is
      // later (a new group starts there): rows trimmed before it existed are not its backlog.
      `SELECT g.name, greatest(0, h.head - greatest(g.position, h.tail)) AS backlog
       FROM event_log_group g,
            (SELECT coalesce(max(position), 0) AS head, coalesce(min(position) - 1, max(position), 0) AS tail
             FROM event_log) h
       WHERE g.updated_at > now() - make_interval(secs => $1)`,
      [this.opts.staleGroupMs / 1000],
    );
    const out: Record<string, number> = {};
    for (const r of rows) {
      out[r.name] = Number(r.backlog);
    }
    return out;
  }

  pressure(maxBacklog: number): BusPressure | undefined {
    if (this.closing) {
      return { kind: 'closing', message: 'Shutting down: events are not accepted any more' };
    }
    this.refreshBacklog();
    for (const [group, n] of Object.entries(this.measuredBacklog)) {
      if (n >= maxBacklog) {
        return {
          kind: 'full',
          message: `Event queue full: '${group}' is ${n} events behind (${n}/${maxBacklog}); retry later.`,
        };
      }
    }
    return undefined;
  }

  private refreshBacklog(): void {
    const now = Date.now();
    if (this.measuringBacklog || now - this.backlogMeasuredAt < this.opts.backlogEveryMs) {
      return;
    }
    this.measuringBacklog = true;
    void this.backlog()
      .then((b) => (this.measuredBacklog = b))
      .catch(() => undefined)
      .finally(() => {
        this.backlogMeasuredAt = Date.now();
        this.measuringBacklog = false;
      });
  }

  /** Deletes, in batches of `trimBatch`, the rows every live group has passed. Returns rows deleted. */
  async trim(maxBatches = 20): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const rows = await this.query<{ n: number }>(
        `WITH floor AS (
           SELECT min(position) AS p FROM event_log_group WHERE updated_at > now() - make_interval(secs => $2)
         ), gone AS (
           DELETE FROM event_log WHERE position IN (
             SELECT position FROM event_log, floor WHERE position <= floor.p ORDER BY position LIMIT $1)
           RETURNING 1
         ) SELECT count(*)::int AS n FROM gone`,
        [this.opts.trimBatch, this.opts.staleGroupMs / 1000],
      );
      const n = Number(rows[0].n);
      total += n;
      if (n < this.opts.trimBatch) {
        break;
      }
    }
    return total;
  }

  /**
   * Stops intake after committing what is pending, closes the consumers (they save their positions) and the
   * connections.
   */
  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    this.pump();
    if (this.appending > 0) {
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
    clearInterval(this.trimTimer);
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.subscriptions.clear();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  /** Drops every connection without saving or committing anything: what SIGKILL looks like (tests). */
  abandon(): void {
    this.closing = true;
    clearInterval(this.trimTimer);
    for (const s of this.subscriptions) {
      s.abandon();
    }
    this.subscriptions.clear();
    void this.listener?.end().catch(() => undefined);
    void this.pool.end().catch(() => undefined);
  }
}

/** One consumer of one group in this process. */
class PgSubscription {
  private readonly logger = new Logger('PostgresEventBus');
  private readonly maxInFlight: number;
  private closed = false;
  private loop?: Promise<void>;
  private wakeSeq = 0;
  private waker?: Deferred<void>;
  private slot?: Deferred<void>;
  private idle?: Deferred<void>;
  /** Session holding the group's advisory lock (durable groups). */
  private session?: Client;
  private sessionLost = false;
  /** Increases when the group is (re)acquired: settlements of an older epoch are ignored. */
  private epoch = 0;
  /** Last position read (the next read starts after it). */
  private cursor = 0;
  /** Positions handed out, in order, and which of them settled: the settled prefix is the saved position. */
  private order: number[] = [];
  private orderHead = 0;
  private settled = new Set<number>();
  private inFlight = 0;
  private committed = 0;
  private saved = 0;
  private savedAt = 0;
  private saving?: Promise<void>;
  private timers = new Set<NodeJS.Timeout>();
  /** Live-only groups: ids recently handed out, so a client's retry of an event is not shown twice. */
  private readonly recentIds = new Set<string>();

  constructor(
    private readonly bus: PostgresEventBus,
    private readonly handler: EventHandler,
    private readonly options: SubscribeOptions,
    private readonly ephemeral: boolean,
    private readonly opts: Required2,
    private readonly observer: BusObserver,
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  }

  startAt(position: number): void {
    this.cursor = this.committed = this.saved = position;
  }

  start(): void {
    this.loop = this.run();
    const saver = setInterval(() => void this.save(), this.opts.savePositionEveryMs);
    saver.unref?.();
    this.timers.add(saver);
  }

  wake(): void {
    this.wakeSeq += 1;
    this.waker?.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.wake();
    this.slot?.resolve();
    await this.loop;
    if (this.inFlight > 0) {
      this.idle ??= deferred<void>();
      await this.idle.promise;
    }
    for (const t of this.timers) {
      clearInterval(t);
    }
    this.timers.clear();
    await this.save(true);
    await this.session?.end().catch(() => undefined);
    this.session = undefined;
  }

  abandon(): void {
    this.closed = true;
    for (const t of this.timers) {
      clearInterval(t);
    }
    this.timers.clear();
    this.wake();
    this.slot?.resolve();
    void this.session?.end().catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (!this.ephemeral && !this.session) {
          if (!(await this.acquire())) {
            await this.waitForWake(this.opts.takeoverEveryMs);
            continue;
          }
        }
        while (this.inFlight >= this.maxInFlight && !this.closed) {
          this.slot = deferred<void>();
          await this.slot.promise;
        }
        if (this.closed) {
          return;
        }
        const seq = this.wakeSeq;
        const limit = Math.min(this.opts.readCount, this.maxInFlight - this.inFlight);
        const rows = await this.read(limit);
        for (const row of rows) {
          this.deliver(row);
        }
        if (rows.length === limit) {
          continue;
        }
        if (seq === this.wakeSeq) {
          await this.waitForWake(this.opts.pollIntervalMs);
        }
      } catch (err) {
        if (this.closed) {
          return;
        }
        this.warn('read failed', err);
        await this.waitForWake(Math.min(1000, this.opts.pollIntervalMs));
      }
    }
  }

  private async read(
    limit: number,
  ): Promise<{ position: number; only_group: string | null; event: ReceivedEvent }[]> {
    const params = [this.cursor, limit];
    if (this.session) {
      return (
        await this.session.query<{ position: number; only_group: string | null; event: ReceivedEvent }>(
          READ_SQL,
          params,
        )
      ).rows;
    }
    return this.bus.query(READ_SQL, params);
  }

  /** Takes the group's lock on a session of its own; loads the saved position. False: another holds it. */
  private async acquire(): Promise<boolean> {
    const client = this.bus.newClient();
    client.on('error', (err) => {
      if (this.session !== client) {
        return;
      }
      this.warn('group session lost; another consumer may take the group over', err);
      this.session = undefined;
      this.sessionLost = true;
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(hashtextextended('prefect_event_log_group:' || $1, 0)) AS locked`,
        [this.options.group],
      );
      if (!rows[0].locked) {
        await client.end().catch(() => undefined);
        return false;
      }
      const pos = await client.query<{ position: number }>(
        `INSERT INTO event_log_group (name) VALUES ($1)
         ON CONFLICT (name) DO UPDATE SET updated_at = now() RETURNING position`,
        [this.options.group],
      );
      this.epoch += 1;
      this.order = [];
      this.orderHead = 0;
      this.settled.clear();
      this.inFlight = 0;
      this.startAt(Number(pos.rows[0].position));
      this.session = client;
      this.savedAt = Date.now();
      if (this.sessionLost) {
        this.logger.log({ msg: 'group taken over', group: this.options.group, at: this.cursor });
      }
      return true;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  }

  private waitForWake(ms: number): Promise<void> {
    if (this.closed) {
      return Promise.resolve();
    }
    this.waker = deferred<void>();
    const timer = setTimeout(() => this.waker?.resolve(), ms);
    return this.waker.promise.finally(() => {
      clearTimeout(timer);
      this.waker = undefined;
    });
  }

  private deliver(row: { position: number; only_group: string | null; event: ReceivedEvent }): void {
    const position = Number(row.position);
    this.cursor = position;
    this.order.push(position);
    if (row.only_group !== null && row.only_group !== this.options.group) {
      this.markSettled(position, this.epoch);
      return;
    }
    if (this.ephemeral) {
      if (this.recentIds.has(row.event.id)) {
        this.markSettled(position, this.epoch);
        return;
      }
      this.recentIds.add(row.event.id);
      if (this.recentIds.size > 10_000) {
        this.recentIds.delete(this.recentIds.values().next().value as string);
      }
    }
    this.inFlight += 1;
    this.dispatch(position, row.event, 0, this.epoch);
  }

  private dispatch(position: number, event: ReceivedEvent, attempts: number, epoch: number): void {
    let handled: Promise<void>;
    try {
      handled = this.handler(event);
    } catch (err) {
      handled = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    handled.then(
      () => this.done(position, epoch),
      (err: unknown) => this.failed(position, event, attempts + 1, epoch, err),
    );
  }

  private failed(
    position: number,
    event: ReceivedEvent,
    attempts: number,
    epoch: number,
    err: unknown,
  ): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (this.closed || epoch !== this.epoch) {
      // Not acknowledged: the position stays before it, so it is delivered again after a restart/takeover.
      this.release(epoch);
      return;
    }
    if (attempts > this.opts.maxRetries) {
      this.logger.warn({
        msg: 'event handler failed, giving up',
        group: this.options.group,
        id: event.id,
        reason,
      });
      void this.observer.deadLetter(this.options.group, event, attempts, reason).then(
        () => this.done(position, epoch),
        (e: unknown) => {
          this.warn('dead-lettering failed; retrying the event', e);
          this.later(
            () => this.dispatch(position, event, this.opts.maxRetries, epoch),
            this.opts.retryDelayMs * attempts,
          );
        },
      );
      return;
    }
    this.later(() => this.dispatch(position, event, attempts, epoch), this.opts.retryDelayMs * attempts);
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) {
        this.release(this.epoch);
        return;
      }
      fn();
    }, ms);
    timer.unref?.();
    this.timers.add(timer);
  }

  private done(position: number, epoch: number): void {
    this.release(epoch);
    this.markSettled(position, epoch);
  }

  /** One handler fewer in flight. */
  private release(epoch: number): void {
    if (epoch !== this.epoch) {
      return;
    }
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.slot && this.inFlight < this.maxInFlight) {
      const s = this.slot;
      this.slot = undefined;
      s.resolve();
    }
    if (this.inFlight === 0 && this.idle) {
      this.idle.resolve();
      this.idle = undefined;
    }
  }

  private markSettled(position: number, epoch: number): void {
    if (epoch !== this.epoch) {
      return;
    }
    this.settled.add(position);
    while (this.orderHead < this.order.length && this.settled.has(this.order[this.orderHead])) {
      const p = this.order[this.orderHead++];
      this.settled.delete(p);
      this.committed = p;
    }
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }

  /** Writes the settled position (and, every 30 s while idle, a heartbeat that keeps the group live). */
  private async save(force = false): Promise<void> {
    if (this.saving) {
      if (!force) {
        return;
      }
      await this.saving;
    }
    if (this.ephemeral || !this.session) {
      return;
    }
    const heartbeat = Date.now() - this.savedAt > 30_000;
    if (!force && this.committed <= this.saved && !heartbeat) {
      return;
    }
    const session = this.session;
    const position = this.committed;
    this.saving = (async () => {
      try {
        await session.query(
          `UPDATE event_log_group SET position = greatest(position, $2), updated_at = now() WHERE name = $1`,
          [this.options.group, position],
        );
        this.saved = Math.max(this.saved, position);
        this.savedAt = Date.now();
      } catch (err) {
        this.warn('saving the position failed', err);
      } finally {
        this.saving = undefined;
      }
    })();
    await this.saving;
    if (force && this.committed > this.saved) {
      await this.save(true);
    }
  }

  private warn(msg: string, err: unknown): void {
    this.logger.warn({
      msg,
      group: this.options.group,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
