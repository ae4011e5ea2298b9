import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { EventBus, Subscription } from './bus/event-bus';
import { ReceivedEvent } from './event.types';

export type LiveListener = (event: ReceivedEvent) => void;

/**
 * The live event stream of this process, for `/events/out`: one bus subscription (its own consumer group,
 * `ephemeral:stream:<uuid>`, so every replica sees every event) fanned out to the connected sockets. It is
 * opened by the first listener and kept until shutdown.
 */
@Injectable()
export class EventsStreamService implements OnApplicationShutdown {
  private readonly logger = new Logger(EventsStreamService.name);
  private readonly listeners = new Set<LiveListener>();
  private subscription?: Promise<Subscription>;
  readonly group = `ephemeral:stream:${randomUUID()}`;

  constructor(private readonly bus: EventBus) {}

  /** Registers a listener; resolves once the bus subscription is open. Returns the unsubscribe function. */
  async listen(listener: LiveListener): Promise<() => void> {
    this.listeners.add(listener);
    this.subscription ??= this.bus.subscribe((event) => Promise.resolve(this.fanOut(event)), {
      group: this.group,
      maxInFlight: 1000,
    });
    await this.subscription;
    return () => this.listeners.delete(listener);
  }

  private fanOut(event: ReceivedEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ msg: 'live listener failed', error: String(err) });
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    const sub = this.subscription;
    this.subscription = undefined;
    this.listeners.clear();
    if (sub) {
      await (await sub).close();
    }
  }
}
