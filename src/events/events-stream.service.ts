import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { deferred, Deferred } from '../common/async/deferred';
import { Clock } from '../common/time/clock';
import { fromMicros, toMicros } from '../common/time/timestamp';
import { closeReason, CloseCode, prefectHandshake, PrefectSocket } from '../common/websocket/prefect-socket';
import { AppConfig } from '../config/app-config';
import { EventBus, Subscription } from './bus/event-bus';
import { toWire } from './event.schema';
import { ReceivedEvent } from './event.types';
import { EventsQueryService } from './events-query.service';
import { EventFilter, FilterParseError } from './filters/event-filter.types';
import { eventMatches } from './filters/match';
import { parseEventFilter } from './filters/parse';

export type LiveListener = (event: ReceivedEvent) => void;

/** Live events a slow client may have waiting before it is disconnected. */
const MAX_PENDING = 10_000;
/** Close code for a client that cannot keep up (RFC 6455 1013: try again later). */
const TRY_AGAIN_LATER = 1013;
const PROBE_EVERY_MS = 20_000;
const FAR_FUTURE = '9999-12-31T23:59:59.999999Z';

/** What an `/events/out` client asked for in its `{"type":"filter"}` message. */
interface StreamRequest {
  filter: EventFilter;
  backfill: boolean;
}

/**
 * The `/events/out` streams (docs/reference.md §3.4) and the live event stream of this process behind them.
 *
 * Live: one bus subscription (its own consumer group, `ephemeral:stream:<uuid>`, so every replica sees every
 * event) fanned out to the connected sockets; opened by the first listener and kept until shutdown.
 *
 * Per socket (`handle`): after the handshake, a `{"type":"filter"}` message; the live stream is subscribed
 * first, then stored matches are backfilled (`occurred.since` clamped to the backfill window, ascending, in
 * pages), then live matches follow, skipping ids already sent. A client that lets MAX_PENDING live events pile
 * up is closed 1013; an idle peer that misses a pong is dropped.
 */
@Injectable()
export class EventsStreamService implements OnApplicationShutdown {
  private readonly logger = new Logger(EventsStreamService.name);
  private readonly listeners = new Set<LiveListener>();
  private subscription?: Promise<Subscription>;
  readonly group = `ephemeral:stream:${randomUUID()}`;

  constructor(
    private readonly bus: EventBus,
    private readonly query: EventsQueryService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Serves one `/events/out` socket until it closes; never rejects (failures are logged). */
  async handle(ws: WebSocket): Promise<void> {
    try {
      await this.serve(new PrefectSocket(ws));
    } catch (err) {
      this.logger.error({ msg: 'events/out failed', error: err instanceof Error ? err.stack : String(err) });
    }
  }

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

  private async serve(socket: PrefectSocket): Promise<void> {
    if (!(await prefectHandshake(socket, this.config.api.authString))) {
      return;
    }
    const message = await socket.receiveJson();
    if (message === null || message === undefined) {
      return;
    }
    const request = this.streamRequest(socket, message);
    if (!request) {
      return;
    }
    const { filter } = request;

    // Live first, so nothing that arrives during the backfill is missed.
    const pending: ReceivedEvent[] = [];
    let wake: Deferred<void> | undefined;
    let overflow = false;
    const unsubscribe = await this.listen((event) => {
      if (!eventMatches(filter, event)) {
        return;
      }
      if (pending.length >= MAX_PENDING) {
        overflow = true;
      } else {
        pending.push(event);
      }
      wake?.resolve();
    });
    socket.ws.once('close', () => wake?.resolve());
    const stopProbing = this.probeLiveness(socket);
    try {
      const sent = request.backfill ? await this.backfill(socket, filter) : new Set<string>();
      while (!socket.closed) {
        if (overflow) {
          socket.close(TRY_AGAIN_LATER, 'Client too slow: live events overflowed');
          return;
        }
        const event = pending.shift();
        if (!event) {
          wake = deferred<void>();
          await wake.promise;
          wake = undefined;
          continue;
        }
        if (sent.has(event.id)) {
          continue;
        }
        await socket.send({ type: 'event', event: toWire(event) });
      }
    } catch (err) {
      if (!socket.closed) {
        throw err;
      }
    } finally {
      stopProbing();
      unsubscribe();
    }
  }

  /**
   * The filter message, parsed: `until` unset means open-ended, `since` is clamped to the backfill window, the
   * order is ascending. Closes the socket (1002) and returns undefined when the message is not a valid filter.
   */
  private streamRequest(
    socket: PrefectSocket,
    message: { value: unknown } | { invalid: string },
  ): StreamRequest | undefined {
    const value = 'value' in message ? (message.value as Record<string, unknown> | null) : null;
    if (!value || typeof value !== 'object' || value.type !== 'filter') {
      socket.close(CloseCode.PROTOCOL_ERROR, "Expected 'filter' message");
      return undefined;
    }
    let filter: EventFilter;
    const now = this.clock.nowMicros();
    try {
      filter = parseEventFilter(value.filter, now, ['filter']);
    } catch (err) {
      if (!(err instanceof FilterParseError)) {
        throw err;
      }
      socket.close(CloseCode.PROTOCOL_ERROR, closeReason(`Invalid filter: ${err.message}`));
      return undefined;
    }
    const rawUntil = (value.filter as { occurred?: { until?: unknown } } | null)?.occurred?.until;
    if (rawUntil === undefined || rawUntil === null) {
      filter.occurred.until = FAR_FUTURE;
    }
    const earliest = now - Math.round(this.config.events.maximumWebsocketBackfill * 1e6);
    if (toMicros(filter.occurred.since) < earliest) {
      filter.occurred.since = fromMicros(earliest);
    }
    filter.order = 'ASC';
    return { filter, backfill: value.backfill !== false };
  }

  /** Sends the stored matches, oldest first, page by page; returns their ids (the live part skips them). */
  private async backfill(socket: PrefectSocket, filter: EventFilter): Promise<Set<string>> {
    const sent = new Set<string>();
    const pageSize = this.config.events.websocketBackfillPageSize;
    for (let offset = 0; !socket.closed; offset += pageSize) {
      const page = await this.query.find(filter, pageSize, offset);
      for (const event of page) {
        sent.add(event.id);
        await socket.send({ type: 'event', event: toWire(event) });
      }
      if (page.length < pageSize) {
        break;
      }
    }
    return sent;
  }

  /** Liveness probe while idle: a peer that misses a pong is dropped (its listener with it). Returns the stop. */
  private probeLiveness(socket: PrefectSocket): () => void {
    let alive = true;
    socket.ws.on('pong', () => (alive = true));
    const probe = setInterval(() => {
      if (!alive) {
        return socket.ws.terminate();
      }
      alive = false;
      socket.ws.ping();
    }, PROBE_EVERY_MS);
    probe.unref?.();
    return () => clearInterval(probe);
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
