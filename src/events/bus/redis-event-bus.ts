import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { deferred, Deferred, sleep } from '../../common/async/deferred';
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

export { EPHEMERAL_GROUP_PREFIX };

export interface RedisEventBusOptions {
  url: string;
  /** The stream key. */
  stream?: string;
  /** An entry pending this long (ms) with a silent consumer is claimed by another consumer of its group. */
  claimIdleMs?: number;
  /** Entries read per XREADGROUP at most. */
  readCount?: number;
  /** Local redeliveries of an entry whose handler rejected, before it is dead-lettered and acked. */
  maxRetries?: number;
  retryDelayMs?: number;
  /** Publish-side dedupe window by event id (ms). */
  dedupeTtlMs?: number;
  /** How long XREADGROUP blocks (ms); bounds how long `close()` waits for the reader. */
  blockMs?: number;
  /** How often the stream is trimmed to what every durable group has acknowledged (ms; 0 = never). */
  trimEveryMs?: number;
  /**
   * Each consumer refreshes a liveness key this often (ms); a consumer of the group without one (its process
   * died) has its pending entries claimed at once and is removed from the group.
   */
  livenessEveryMs?: number;
}

/** SET NX per id (dedupe window), then XADD the new ones: one round trip per publish. */
const PUBLISH_SCRIPT = `
local n = 0
for i = 3, #ARGV, 2 do
  if redis.call('SET', ARGV[2] .. ARGV[i], '1', 'NX', 'PX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'data', ARGV[i + 1])
    n = n + 1
  end
end
return n`;

type StreamEntry = [id: string, fields: string[]];

function isBusyGroup(err: unknown): boolean {
  return err instanceof Error && err.message.includes('BUSYGROUP');
}

/**
 * The Redis Streams adapter (`PREFECT_SERVER_EVENTS_MESSAGING_BROKER=redis`): one stream, one consumer group
 * per `SubscribeOptions.group`, so every group gets every event and, within a group, each entry goes to one
 * consumer (XREADGROUP). An entry is acknowledged (XACK) only when its handler resolves. While a handler
 * works, its consumer keeps the entry's idle time fresh (XCLAIM JUSTID), so a slow batch is not stolen; a
 * consumer that dies stops refreshing, and after `claimIdleMs` another consumer of the group takes its
 * pending entries over (XAUTOCLAIM). A rejected handler gets the entry again locally after a delay, up to
 * `maxRetries` times, then it is dead-lettered and acked. The stream is trimmed (XTRIM MINID) to the oldest
 * entry some durable group still needs.
 */
export class RedisEventBus extends EventBus implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisEventBus.name);
  private readonly opts: Required<Omit<RedisEventBusOptions, 'url'>>;
  private readonly client: Redis;
  private readonly subscriptions = new Set<RedisSubscription>();
  private trimTimer?: NodeJS.Timeout;
  private measuredBacklog: Record<string, number> = {};
  private backlogMeasuredAt = 0;
  private measuringBacklog = false;
  private closing = false;

  constructor(
    private readonly url: string,
    options: Omit<RedisEventBusOptions, 'url'> = {},
    private readonly observer: BusObserver = NOOP_OBSERVER,
  ) {
    super();
    this.opts = {
      stream: options.stream ?? 'prefect:events',
      claimIdleMs: options.claimIdleMs ?? 30_000,
      readCount: options.readCount ?? 500,
      maxRetries: options.maxRetries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 100,
      dedupeTtlMs: options.dedupeTtlMs ?? 5 * 60_000,
      blockMs: options.blockMs ?? 1000,
      trimEveryMs: options.trimEveryMs ?? 60_000,
      livenessEveryMs: options.livenessEveryMs ?? 1000,
    };
    this.client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  }

  get stream(): string {
    return this.opts.stream;
  }

  async publish(events: ReceivedEvent[]): Promise<void> {
    if (!events.length) {
      return;
    }
    const args: string[] = [String(this.opts.dedupeTtlMs), `${this.opts.stream}:seen:`];
    for (const e of events) {
      args.push(e.id, JSON.stringify(e));
    }
    await this.client.eval(PUBLISH_SCRIPT, 1, this.opts.stream, ...args);
  }

  async subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    const ephemeral = options.group.startsWith(EPHEMERAL_GROUP_PREFIX);
    try {
      await this.client.xgroup('CREATE', this.opts.stream, options.group, ephemeral ? '$' : '0', 'MKSTREAM');
    } catch (err) {
      if (!isBusyGroup(err)) {
        throw err;
      }
    }
    const sub = new RedisSubscription(
      this,
      this.client.duplicate(),
      handler,
      options,
      ephemeral,
      this.opts,
      this.observer,
    );
    const handle = trackSubscription(
      this.subscriptions,
      sub,
      ephemeral
        ? () => this.client.xgroup('DESTROY', this.opts.stream, options.group).catch(() => undefined)
        : undefined,
    );
    this.trimTimer ??= armTrimTimer(this.opts.trimEveryMs, () => this.trim(), this.logger);
    return handle;
  }

  /**
   * Puts one event back for one group only (dead-letter replay): an entry tagged `only`, which the other
   * groups acknowledge and skip.
   */
  async redeliver(group: string, event: ReceivedEvent): Promise<void> {
    await this.client.xadd(this.opts.stream, '*', 'data', JSON.stringify(event), 'only', group);
  }

  /**
   * Drops every connection and timer without acknowledging anything: what a crashed process looks like to
   * Redis (its pending entries wait for another consumer's claim). For tests and emergency stops.
   */
  abandon(): void {
    clearInterval(this.trimTimer);
    for (const s of this.subscriptions) {
      s.abandon();
    }
    this.subscriptions.clear();
    this.client.disconnect();
  }

  /** Per group: entries not yet delivered (lag) plus delivered but unacknowledged (pending). */
  async backlog(): Promise<Record<string, number>> {
    const groups = (await this.client.xinfo('GROUPS', this.opts.stream).catch(() => [])) as unknown[][];
    const out: Record<string, number> = {};
    for (const g of groups) {
      const info = toRecord(g);
      const lag = info.lag === null || info.lag === undefined ? 0 : Number(info.lag);
      out[String(info.name)] = lag + Number(info.pending ?? 0);
    }
    return out;
  }

  /**
   * From the backlog measured at most every 250 ms: full while a durable group (e.g. the persisters, wherever
   * they run) has `maxBacklog` entries or more not yet acknowledged.
   */
  pressure(maxBacklog: number): BusPressure | undefined {
    if (this.closing) {
      return { kind: 'closing', message: 'Shutting down: events are not accepted any more' };
    }
    const now = Date.now();
    if (!this.measuringBacklog && now - this.backlogMeasuredAt >= 250) {
      this.measuringBacklog = true;
      void this.backlog()
        .then((b) => (this.measuredBacklog = b))
        .catch(() => undefined)
        .finally(() => {
          this.backlogMeasuredAt = Date.now();
          this.measuringBacklog = false;
        });
    }
    for (const [group, n] of Object.entries(this.measuredBacklog)) {
      if (group.startsWith(EPHEMERAL_GROUP_PREFIX) || n < maxBacklog) {
        continue;
      }
      return {
        kind: 'full',
        message: `Event queue full: '${group}' is ${n} events behind (${n}/${maxBacklog}); retry later.`,
      };
    }
    return undefined;
  }

  /** Deletes entries older than anything a durable group still needs. */
  async trim(): Promise<void> {
    const groups = (await this.client.xinfo('GROUPS', this.opts.stream)) as unknown[][];
    let min: string | undefined;
    for (const g of groups) {
      const info = toRecord(g);
      if (String(info.name).startsWith(EPHEMERAL_GROUP_PREFIX)) {
        continue;
      }
      let needed = String(info['last-delivered-id']);
      if (Number(info.pending) > 0) {
        const summary = (await this.client.xpending(this.opts.stream, String(info.name))) as [
          number,
          string,
          string,
          unknown,
        ];
        needed = summary[1];
      } else {
        needed = nextId(needed);
      }
      if (min === undefined || compareIds(needed, min) < 0) {
        min = needed;
      }
    }
    if (min !== undefined && min !== '0-0') {
      await this.client.xtrim(this.opts.stream, 'MINID', min);
    }
  }

  async connect(): Promise<void> {
    if (this.client.status === 'wait') {
      await this.client.connect();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.trimTimer);
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.subscriptions.clear();
    this.client.disconnect();
  }

  /** For subscriptions: the shared non-blocking connection. */
  get commands(): Redis {
    return this.client;
  }
}

function toRecord(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    out[String(flat[i])] = flat[i + 1];
  }
  return out;
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  if (am !== bm) {
    return am < bm ? -1 : 1;
  }
  if (as !== bs) {
    return as < bs ? -1 : 1;
  }
  return 0;
}

function livenessKey(stream: string, group: string, consumer: string): string {
  return `${stream}:alive:${group}:${consumer}`;
}

function nextId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${BigInt(seq ?? '0') + 1n}`;
}

class RedisSubscription {
  private readonly logger = new Logger('RedisEventBus');
  private readonly consumer = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly maxInFlight: number;
  private readonly inFlight = new Map<string, number>(); // entry id → attempts
  private closed = false;
  private slot?: Deferred<void>;
  private idle?: Deferred<void>;
  private loop?: Promise<void>;
  private timers = new Set<NodeJS.Timeout>();
  private acks: string[] = [];
  private ackScheduled = false;

  constructor(
    private readonly bus: RedisEventBus,
    private readonly reader: Redis,
    private readonly handler: EventHandler,
    private readonly options: SubscribeOptions,
    private readonly ephemeral: boolean,
    private readonly opts: Required<Omit<RedisEventBusOptions, 'url'>>,
    private readonly observer: BusObserver,
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  }

  private get redis(): Redis {
    return this.bus.commands;
  }

  private get livenessKey(): string {
    return livenessKey(this.opts.stream, this.options.group, this.consumer);
  }

  start(): void {
    this.loop = this.run();
    if (!this.ephemeral) {
      const beat = (): void =>
        void this.beat()
          .then(() => this.recoverDeadConsumers())
          .catch((err: unknown) => this.warn('liveness/recovery failed', err));
      beat();
      const liveness = setInterval(beat, this.opts.livenessEveryMs);
      liveness.unref?.();
      this.timers.add(liveness);
    }
    const heartbeat = setInterval(
      () => void this.maintain().catch((err: unknown) => this.warn('claim/heartbeat failed', err)),
      Math.max(20, this.opts.claimIdleMs / 3),
    );
    heartbeat.unref?.();
    this.timers.add(heartbeat);
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.slot?.resolve();
    for (const t of this.timers) {
      clearInterval(t);
    }
    this.timers.clear();
    await this.loop;
    if (this.inFlight.size > 0) {
      this.idle ??= deferred<void>();
      await this.idle.promise;
    }
    await this.flushAcks();
    if (!this.ephemeral) {
      await this.redis.del(this.livenessKey).catch(() => undefined);
    }
    this.reader.disconnect();
  }

  abandon(): void {
    this.closed = true;
    for (const t of this.timers) {
      clearInterval(t);
    }
    this.timers.clear();
    this.slot?.resolve();
    this.reader.disconnect();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        while (this.inFlight.size >= this.maxInFlight && !this.closed) {
          this.slot = deferred<void>();
          await this.slot.promise;
        }
        if (this.closed) {
          return;
        }
        const count = Math.min(this.opts.readCount, this.maxInFlight - this.inFlight.size);
        const result = (await this.reader.xreadgroup(
          'GROUP',
          this.options.group,
          this.consumer,
          'COUNT',
          count,
          'BLOCK',
          this.opts.blockMs,
          'STREAMS',
          this.opts.stream,
          '>',
        )) as [string, StreamEntry[]][] | null;
        if (!result || (this.closed && !result)) {
          continue;
        }
        for (const [, entries] of result) {
          for (const entry of entries) {
            this.deliver(entry, 0);
          }
        }
      } catch (err) {
        if (this.closed) {
          return;
        }
        if (err instanceof Error && err.message.includes('NOGROUP')) {
          await this.redis
            .xgroup('CREATE', this.opts.stream, this.options.group, this.ephemeral ? '$' : '0', 'MKSTREAM')
            .catch(() => undefined);
        } else {
          this.warn('read failed', err);
        }
        await sleep(200);
      }
    }
  }

  private deliver([id, fields]: StreamEntry, attempts: number): void {
    const onlyAt = fields.indexOf('only');
    if (onlyAt >= 0 && fields[onlyAt + 1] !== this.options.group) {
      this.ack(id);
      return;
    }
    let event: ReceivedEvent;
    try {
      const data = fields[fields.indexOf('data') + 1];
      event = JSON.parse(data) as ReceivedEvent;
    } catch (err) {
      void this.observer
        .deadLetter(
          this.options.group,
          { fields } as unknown as ReceivedEvent,
          1,
          `unreadable stream entry ${id}: ${String(err)}`,
        )
        .then(() => this.ack(id))
        .catch((e: unknown) => this.warn('dead-lettering failed', e));
      return;
    }
    this.inFlight.set(id, attempts);
    let handled: Promise<void>;
    try {
      handled = this.handler(event);
    } catch (err) {
      handled = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    handled.then(
      () => {
        this.ack(id);
        this.settle(id);
      },
      (err: unknown) => this.failed(id, fields, event, attempts + 1, err),
    );
  }

  private failed(id: string, fields: string[], event: ReceivedEvent, attempts: number, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (attempts > this.opts.maxRetries) {
      void this.observer
        .deadLetter(this.options.group, event, attempts, reason)
        .then(() => this.ack(id))
        .catch((e: unknown) => this.warn('dead-lettering failed; left pending for a later claim', e))
        .finally(() => this.settle(id));
      return;
    }
    if (this.closed) {
      // Left pending: another consumer (or this one after a restart) claims it.
      this.settle(id);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.inFlight.delete(id);
      this.deliver([id, fields], attempts);
    }, this.opts.retryDelayMs * attempts);
    timer.unref?.();
    this.timers.add(timer);
  }

  private settle(id: string): void {
    this.inFlight.delete(id);
    if (this.slot && this.inFlight.size < this.maxInFlight) {
      const s = this.slot;
      this.slot = undefined;
      s.resolve();
    }
    if (this.inFlight.size === 0 && this.idle) {
      this.idle.resolve();
      this.idle = undefined;
    }
  }

  private ack(id: string): void {
    this.acks.push(id);
    if (this.ackScheduled) {
      return;
    }
    this.ackScheduled = true;
    setImmediate(() => void this.flushAcks().catch((err: unknown) => this.warn('ack failed', err)));
  }

  private async flushAcks(): Promise<void> {
    this.ackScheduled = false;
    if (!this.acks.length) {
      return;
    }
    const ids = this.acks;
    this.acks = [];
    for (let i = 0; i < ids.length; i += 1000) {
      await this.redis.xack(this.opts.stream, this.options.group, ...ids.slice(i, i + 1000));
    }
  }

  private async beat(): Promise<void> {
    if (this.closed) {
      return;
    }
    await this.redis.set(this.livenessKey, '1', 'PX', this.opts.livenessEveryMs * 5);
  }

  /** Pending entries of dead consumers (no liveness key) not yet taken over; how many recovered so far. */
  recovering = 0;

  /**
   * Takes over what consumers of this group whose processes died left pending (their liveness key expired),
   * at once instead of after `claimIdleMs`, and removes them from the group.
   */
  private async recoverDeadConsumers(): Promise<void> {
    const consumers = (await this.redis.xinfo(
      'CONSUMERS',
      this.opts.stream,
      this.options.group,
    )) as unknown[][];
    let left = 0;
    for (const raw of consumers) {
      const info = toRecord(raw);
      const name = String(info.name);
      if (name === this.consumer || this.closed) {
        continue;
      }
      if (await this.redis.exists(livenessKey(this.opts.stream, this.options.group, name))) {
        continue;
      }
      const pending = Number(info.pending ?? 0);
      if (pending > 0) {
        const room = this.maxInFlight - this.inFlight.size;
        if (room <= 0) {
          left += pending;
          continue;
        }
        const rows = (await this.redis.xpending(
          this.opts.stream,
          this.options.group,
          '-',
          '+',
          Math.min(room, this.opts.readCount),
          name,
        )) as [string, string, number, number][];
        const ids = rows.map((r) => r[0]).filter((id) => !this.inFlight.has(id));
        if (ids.length) {
          const claimed = (await this.redis.xclaim(
            this.opts.stream,
            this.options.group,
            this.consumer,
            0,
            ...ids,
          )) as (StreamEntry | null)[];
          const found = new Set<string>();
          for (const entry of claimed) {
            if (!entry) {
              continue;
            }
            found.add(entry[0]);
            this.deliver(entry, 0);
          }
          // Entries trimmed away meanwhile: nothing to deliver, acknowledge them.
          for (const id of ids) {
            if (!found.has(id)) {
              this.ack(id);
            }
          }
          this.logger.log({
            msg: 'took over the pending events of a dead consumer',
            group: this.options.group,
            consumer: name,
            count: found.size,
          });
        }
        if (pending > ids.length) {
          left += pending - ids.length;
          continue;
        }
      }
      await this.redis.xgroup('DELCONSUMER', this.opts.stream, this.options.group, name);
    }
    this.recovering = left;
  }

  /** Keeps own in-flight entries fresh, then claims entries other consumers left idle too long. */
  private async maintain(): Promise<void> {
    if (this.closed) {
      return;
    }
    const mine = [...this.inFlight.keys()];
    for (let i = 0; i < mine.length; i += 1000) {
      await this.redis.xclaim(
        this.opts.stream,
        this.options.group,
        this.consumer,
        0,
        ...mine.slice(i, i + 1000),
        'JUSTID',
      );
    }
    let start = '0-0';
    do {
      const room = this.maxInFlight - this.inFlight.size;
      if (room <= 0 || this.closed) {
        return;
      }
      const [next, entries, deleted] = (await this.redis.xautoclaim(
        this.opts.stream,
        this.options.group,
        this.consumer,
        this.opts.claimIdleMs,
        start,
        'COUNT',
        Math.min(room, this.opts.readCount),
      )) as [string, StreamEntry[], string[]];
      for (const id of deleted ?? []) {
        this.ack(id);
      }
      const claimed = entries.filter((entry) => entry && !this.inFlight.has(entry[0]));
      if (claimed.length) {
        this.logger.log({
          msg: 'claimed stale pending events',
          group: this.options.group,
          count: claimed.length,
        });
      }
      for (const entry of claimed) {
        this.deliver(entry, 0);
      }
      start = next;
    } while (start !== '0-0');
  }

  private warn(msg: string, err: unknown): void {
    this.logger.warn({
      msg,
      group: this.options.group,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
