import { Logger } from '@nestjs/common';
import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { sleep } from '../common/async/deferred';
import { ServiceUnavailableError, TooManyRequestsError } from '../common/errors/domain.error';
import { prefectHandshake, PrefectSocket } from '../common/websocket/prefect-socket';
import { AppConfig } from '../config/app-config';
import { EventsIngestService } from './events-ingest.service';

/** Close code for an event the server refuses (RFC 6455: data inconsistent with the message type). */
export const INVALID_EVENT_CLOSE_CODE = 1007;
const GOING_AWAY = 1001;

/** Websocket reasons are at most 123 bytes. */
export function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out, 'utf8') > 123) out = out.slice(0, -2);
  return out === text ? out : `${out.slice(0, -1)}…`;
}

/**
 * `WS /api/events/in` (docs/reference.md §3.3): after the handshake each text frame is one event, stamped and published;
 * no replies. While the persister's buffer is full the gateway stops reading (the socket pauses and TCP
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
    if (!(await prefectHandshake(socket, this.config.api.authString))) return;
    for (;;) {
      await this.waitForRoom(socket);
      const frame = await socket.receive();
      if (frame === null || frame === undefined) return;
      let raw: unknown;
      try {
        raw = JSON.parse(frame);
      } catch {
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
        socket.close(INVALID_EVENT_CLOSE_CODE, closeReason(`Invalid event: ${text}`));
        return;
      }
      try {
        await this.publish(socket, events);
      } catch (err) {
        if (!(err instanceof ServiceUnavailableError)) throw err;
        socket.close(GOING_AWAY, 'Server shutting down');
        return;
      }
    }
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
        if (!(err instanceof TooManyRequestsError) || socket.closed) throw err;
        await sleep(25);
      }
    }
  }

  private async waitForRoom(socket: PrefectSocket): Promise<void> {
    while (!this.ingest.hasRoom() && !socket.closed) await sleep(25);
  }
}
