import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { deferred, Deferred } from '../../common/async/deferred';
import { TooManyRequestsError } from '../../common/errors/domain.error';
import { ReceivedEvent } from '../event.types';
import { BusObserver, NOOP_OBSERVER } from './bus-observer';
import {
  BusPressure,
  EPHEMERAL_GROUP_PREFIX,
  EventBus,
  EventHandler,
  SubscribeOptions,
  Subscription,
} from './event-bus';

export interface InMemoryEventBusOptions {
  /** Events waiting per consumer group at most; past it `publish` refuses with 429 (never drops). */
  queueSize?: number;
  /** Redeliveries of an event whose handler rejected, before it is dead-lettered. */
  maxRetries?: number;
  /** Delay before the n-th redelivery is `retryDelayMs * n`. */
  retryDelayMs?: number;
  /** Event ids remembered for publish-side dedupe, and for how long. */
  dedupeSize?: number;
  dedupeTtlMs?: number;
}

interface Entry {
  event: ReceivedEvent;
  attempts: number;
}

interface Consumer {
  handler: EventHandler;
  maxInFlight: number;
  inFlight: number;
  closed: boolean;
  idle?: Deferred<void>;
}

/** A FIFO with O(1) shift. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(...values: T[]): void {
    for (const v of values) {
      this.items.push(v);
    }
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) {
      return undefined;
    }
    const value = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }
}

interface Group {
  name: string;
  queue: Fifo<Entry>;
  /** Redeliveries, served before new events. Bounded by the events in flight. */
  retry: Fifo<Entry>;
  consumers: Consumer[];
  next: number;
  timers: Set<NodeJS.Timeout>;
  /** Events handed to consumers and not settled. */
  inFlight: number;
  /** Its last consumer closed. */
  abandoned: boolean;
}

/**
 * The default event bus: one process, no broker. Every consumer group gets its own copy of each event (so the
 * persister and the task-run recorder both see everything); within a group each event goes to one consumer,
 * at most `maxInFlight` unsettled per consumer. A handler that rejects gets the event again after a short
 * delay (retry queue first), up to `maxRetries` times, then the event goes to the dead-letter table (source
 * `event-bus`, replayable). Publishing dedupes by event id (bounded TTL cache) and refuses with
 * `TooManyRequestsError` when a group's queue is full (a batch into an empty queue is always taken), so
 * nothing is dropped silently. Events published
 * while a group has no subscriber are kept for it only if the group already exists (it is created by its
 * first `subscribe`).
 */
export class InMemoryEventBus extends EventBus implements OnApplicationShutdown {
  private readonly logger = new Logger(InMemoryEventBus.name);
  private readonly groups = new Map<string, Group>();
  private readonly seen = new Map<string, number>();
  private readonly queueSize: number;
  private readonly maxRetries: number;
  private readonly retryDelayMs: number;
  private readonly dedupeSize: number;
  private readonly dedupeTtlMs: number;

  constructor(
    options: InMemoryEventBusOptions = {},
    private readonly observer: BusObserver = NOOP_OBSERVER,
  ) {
    super();
    this.queueSize = options.queueSize ?? 10_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.dedupeSize = options.dedupeSize ?? 10_000;
    this.dedupeTtlMs = options.dedupeTtlMs ?? 5 * 60_000;
  }

  /** Events waiting (not yet handed to a consumer) per group. */
  backlog(): Promise<Record<string, number>> {
    return Promise.resolve(this.backlogNow());
  }

  private backlogNow(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const g of this.groups.values()) {
      out[g.name] = g.queue.length + g.retry.length + g.inFlight;
    }
    return out;
  }

  /**
   * Full when a group holds `maxBacklog` events not yet settled; closing once a group that had consumers has
   * none left (its consumer stopped: what is published now would only be lost with the process).
   */
  pressure(maxBacklog: number): BusPressure | undefined {
    for (const g of this.groups.values()) {
      if (g.abandoned) {
        return { kind: 'closing', message: 'Shutting down: events are not accepted any more' };
      }
    }
    for (const [group, n] of Object.entries(this.backlogNow())) {
      if (n >= maxBacklog) {
        return {
          kind: 'full',
          message: `Event queue full: '${group}' is ${n} events behind (${n}/${maxBacklog}); retry later.`,
        };
      }
    }
    return undefined;
  }

  /** A full queue (429) rejects the promise, as the port's other adapters do. */
  publish(events: ReceivedEvent[]): Promise<void> {
    return new Promise((resolve) => resolve(this.publishNow(events)));
  }

  private publishNow(events: ReceivedEvent[]): void {
    const now = Date.now();
    const fresh: ReceivedEvent[] = [];
    const batchIds = new Set<string>();
    for (const event of events) {
      const expires = this.seen.get(event.id);
      if ((expires !== undefined && expires > now) || batchIds.has(event.id)) {
        continue;
      }
      batchIds.add(event.id);
      fresh.push(event);
    }
    if (!fresh.length) {
      return;
    }
    for (const group of this.groups.values()) {
      const waiting = group.queue.length + group.retry.length;
      if (waiting > 0 && waiting + fresh.length > this.queueSize) {
        throw new TooManyRequestsError(
          `The event bus queue of '${group.name}' is full (${waiting}/${this.queueSize}); retry later.`,
          1,
        );
      }
    }
    for (const event of fresh) {
      this.remember(event.id, now);
    }
    for (const group of this.groups.values()) {
      group.queue.push(...fresh.map((event) => ({ event, attempts: 0 })));
      this.dispatch(group);
    }
  }

  subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    return new Promise((resolve) => resolve(this.subscribeNow(handler, options)));
  }

  private subscribeNow(handler: EventHandler, options: SubscribeOptions): Subscription {
    const group = this.group(options.group);
    const consumer: Consumer = {
      handler,
      maxInFlight: Math.max(1, options.maxInFlight ?? 1),
      inFlight: 0,
      closed: false,
    };
    group.consumers.push(consumer);
    group.abandoned = false;
    this.dispatch(group);
    return {
      close: async () => {
        consumer.closed = true;
        group.consumers = group.consumers.filter((c) => c !== consumer);
        if (!group.consumers.length && !group.name.startsWith(EPHEMERAL_GROUP_PREFIX)) {
          group.abandoned = true;
        }
        if (consumer.inFlight > 0) {
          consumer.idle ??= deferred<void>();
          await consumer.idle.promise;
        }
      },
    };
  }

  /** Puts one event back in a group's queue (dead-letter replay). */
  redeliver(groupName: string, event: ReceivedEvent): Promise<void> {
    return new Promise((resolve) => {
      const group = this.group(groupName);
      group.retry.push({ event, attempts: 0 });
      this.dispatch(group);
      resolve();
    });
  }

  onApplicationShutdown(): void {
    for (const group of this.groups.values()) {
      for (const t of group.timers) {
        clearTimeout(t);
      }
      group.timers.clear();
    }
  }

  private group(name: string): Group {
    let group = this.groups.get(name);
    if (!group) {
      group = {
        name,
        queue: new Fifo(),
        retry: new Fifo(),
        consumers: [],
        next: 0,
        timers: new Set(),
        inFlight: 0,
        abandoned: false,
      };
      this.groups.set(name, group);
    }
    return group;
  }

  private remember(id: string, now: number): void {
    this.seen.delete(id);
    this.seen.set(id, now + this.dedupeTtlMs);
    while (this.seen.size > this.dedupeSize) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
  }

  private pickConsumer(group: Group): Consumer | undefined {
    const n = group.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = group.consumers[(group.next + i) % n];
      if (!c.closed && c.inFlight < c.maxInFlight) {
        group.next = (group.next + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private dispatch(group: Group): void {
    while (group.queue.length + group.retry.length > 0) {
      const consumer = this.pickConsumer(group);
      if (!consumer) {
        return;
      }
      const entry = (group.retry.shift() ?? group.queue.shift())!;
      consumer.inFlight += 1;
      group.inFlight += 1;
      let handled: Promise<void>;
      try {
        handled = consumer.handler(entry.event);
      } catch (err) {
        handled = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      handled.then(
        () => this.settle(group, consumer),
        (err: unknown) => {
          this.settle(group, consumer);
          this.failed(group, entry, err);
        },
      );
    }
  }

  private settle(group: Group, consumer: Consumer): void {
    consumer.inFlight -= 1;
    group.inFlight -= 1;
    if (consumer.inFlight === 0 && consumer.idle) {
      consumer.idle.resolve();
      consumer.idle = undefined;
    }
    this.dispatch(group);
  }

  private failed(group: Group, entry: Entry, err: unknown): void {
    entry.attempts += 1;
    const reason = err instanceof Error ? err.message : String(err);
    if (entry.attempts > this.maxRetries) {
      this.logger.warn({
        msg: 'event handler failed, giving up',
        group: group.name,
        id: entry.event.id,
        reason,
      });
      void this.observer
        .deadLetter(group.name, entry.event, entry.attempts, reason)
        .catch((e: unknown) =>
          this.logger.error({ msg: 'dead-lettering failed', id: entry.event.id, error: String(e) }),
        );
      return;
    }
    const timer = setTimeout(() => {
      group.timers.delete(timer);
      group.retry.push(entry);
      this.dispatch(group);
    }, this.retryDelayMs * entry.attempts);
    timer.unref?.();
    group.timers.add(timer);
  }
}
