import { Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { deferred, Deferred } from '../common/async/deferred';
import { Clock } from '../common/time/clock';
import { fromMicros, toMicros } from '../common/time/timestamp';
import { CloseCode, prefectHandshake, PrefectSocket } from '../common/websocket/prefect-socket';
import { AppConfig } from '../config/app-config';
import { EventFilter, eventMatches, FilterParseError, parseEventFilter } from './event-filter';
import { toWire } from './event.schema';
import { ReceivedEvent } from './event.types';
import { closeReason } from './events-in.gateway';
import { EventsQueryService } from './events-query.service';
import { EventsStreamService } from './events-stream.service';

/** Live events a slow client may have waiting before it is disconnected. */
const MAX_PENDING = 10_000;
/** Close code for a client that cannot keep up (RFC 6455 1013: try again later). */
const TRY_AGAIN_LATER = 1013;
const PROBE_EVERY_MS = 20_000;
const FAR_FUTURE = '9999-12-31T23:59:59.999999Z';

/**
 * `WS /api/events/out` (docs/reference.md §3.4): after the handshake, a `{"type":"filter"}` message; the live stream is
 * subscribed first, then stored matches are backfilled (`occurred.since` clamped to the backfill window,
 * ascending, in pages), then live matches follow, skipping ids already sent.
 */
@WebSocketGateway({ path: '/api/events/out' })
export class EventsOutGateway implements OnGatewayConnection {
  private readonly logger = new Logger(EventsOutGateway.name);

  constructor(
    private readonly query: EventsQueryService,
    private readonly stream: EventsStreamService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  handleConnection(ws: WebSocket): void {
    void this.serve(new PrefectSocket(ws)).catch((err: unknown) =>
      this.logger.error({ msg: 'events/out failed', error: err instanceof Error ? err.stack : String(err) }),
    );
  }

  private async serve(socket: PrefectSocket): Promise<void> {
    if (!(await prefectHandshake(socket, this.config.api.authString))) {
      return;
    }
    const message = await socket.receiveJson();
    if (message === null || message === undefined) {
      return;
    }
    const value = 'value' in message ? (message.value as Record<string, unknown> | null) : null;
    if (!value || typeof value !== 'object' || value.type !== 'filter') {
      socket.close(CloseCode.PROTOCOL_ERROR, "Expected 'filter' message");
      return;
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
      return;
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

    // Live first, so nothing that arrives during the backfill is missed.
    const pending: ReceivedEvent[] = [];
    let wake: Deferred<void> | undefined;
    let overflow = false;
    const unsubscribe = await this.stream.listen((event) => {
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
    // Liveness probe while idle: a peer that misses a pong is dropped (its listener with it).
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
    try {
      const sent = new Set<string>();
      if (value.backfill !== false) {
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
      }
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
      clearInterval(probe);
      unsubscribe();
    }
  }
}
