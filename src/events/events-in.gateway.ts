import { Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { sleep } from '../common/async/deferred';
import { ServiceUnavailableError, TooManyRequestsError } from '../common/errors/domain.error';
import { closeReason, prefectHandshake, PrefectSocket } from '../common/websocket/prefect-socket';
import { AppConfig } from '../config/app-config';
import { EventsIngestService } from './events-ingest.service';

/** Close code for an event the server refuses (RFC 6455: data inconsistent with the message type). */
export const INVALID_EVENT_CLOSE_CODE = 1007;
const GOING_AWAY = 1001;
/** Frames of one socket being committed at once, at most. */
const MAX_IN_FLIGHT = 256;

/**
 * `WS /api/events/in` (docs/reference.md §3.3): after the handshake each text frame is one event, stamped and published;
 * no replies, so durability is defined by the close (docs/events.md): every frame received before a graceful
 * close (the client's, or the server's SIGTERM drain) is committed; a crash can lose only the frames whose
 * group commit had not completed (the last commit window plus one append, ≈ 20 ms at normal load). While the persister's buffer is full the gateway stops reading (the socket pauses and TCP
 * pushes back on the client) instead of dropping. An invalid event closes the socket with 1007 and the
 * reason (docs/reference.md, beyond upstream 3), never silently.
 */
@WebSocketGateway({ path: '/api/events/in' })
export class EventsInGateway implements OnGatewayConnection {
  private readonly logger = new Logger(EventsInGateway.name);

  constructor(
    private readonly ingest: EventsIngestService,
    private readonly config: AppConfig,
  ) {}

  handleConnection(ws: WebSocket): void {
    void this.serve(new PrefectSocket(ws, 100)).catch((err: unknown) =>
      this.logger.error({ msg: 'events/in failed', error: err instanceof Error ? err.stack : String(err) }),
    );
  }

  private async serve(socket: PrefectSocket): Promise<void> {
    if (!(await prefectHandshake(socket, this.config.api.authString))) {
      return;
    }
    // Frames are published without waiting for the previous commit (concurrent publishes share a group
    // commit), at most MAX_IN_FLIGHT at once; the socket is answered (closed) only after all have settled.
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const settleAll = async (): Promise<void> => {
      while (inFlight.size) {
        await Promise.allSettled([...inFlight]);
      }
    };
    for (;;) {
      await this.waitForRoom(socket);
      while (inFlight.size >= MAX_IN_FLIGHT) {
        await Promise.race(inFlight);
      }
      if (failure !== undefined) {
        break;
      }
      const frame = await socket.receive();
      if (frame === null || frame === undefined) {
        break;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(frame);
      } catch {
        await settleAll();
        socket.close(INVALID_EVENT_CLOSE_CODE, 'Invalid event: not JSON');
        return;
      }
      let events;
      try {
        events = this.ingest.parseBatch([raw]);
      } catch (err) {
        const issues = (err as { issues?: { loc: unknown[]; msg: string }[] }).issues;
        const text = issues
          ? issues.map((i) => `${i.loc.slice(2).join('.')}: ${i.msg}`).join('; ')
          : (err as Error).message;
        await settleAll();
        socket.close(INVALID_EVENT_CLOSE_CODE, closeReason(`Invalid event: ${text}`));
        return;
      }
      const published: Promise<void> = this.publish(socket, events)
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => inFlight.delete(published));
      inFlight.add(published);
    }
    await settleAll();
    if (failure === undefined) {
      return;
    }
    if (!(failure instanceof ServiceUnavailableError)) {
      throw failure;
    }
    socket.close(GOING_AWAY, closeReason(failure.message));
  }

  /** Publishes, waiting while the bus or the persister is full. */
  private async publish(
    socket: PrefectSocket,
    events: Parameters<EventsIngestService['publish']>[0],
  ): Promise<void> {
    for (;;) {
      try {
        await this.ingest.publish(events);
        return;
      } catch (err) {
        if (!(err instanceof TooManyRequestsError) || socket.closed) {
          throw err;
        }
        await sleep(25);
      }
    }
  }

  private async waitForRoom(socket: PrefectSocket): Promise<void> {
    while (!this.ingest.hasRoom() && !socket.closed) {
      await sleep(25);
    }
  }
}
