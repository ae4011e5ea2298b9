import { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { WebSocket, WebSocketServer } from 'ws';

export interface BoundedWsOptions {
  /** Largest message (bytes) on every socket: larger closes 1009 as soon as its header arrives. */
  maxPayload: number;
  /** A larger (or smaller) limit for some paths, e.g. the events socket. */
  maxPayloadByPath?: Readonly<Record<string, number>>;
  /** After the server closes a socket, how long the peer has to answer before the socket is dropped (ms). */
  closeGraceMs?: number;
}

/**
 * Makes a server-side close final within `graceMs`: reading resumes (a socket paused for back-pressure
 * would never see the peer's close frame, so `ws` waited its fixed 30 s), frames that still arrive are
 * discarded, and the socket is terminated if the peer has not answered by then.
 */
export function closeWithGrace(ws: WebSocket, graceMs: number): void {
  const close = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer): void => {
    const first = ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING;
    close(code, reason);
    if (!first) {
      return;
    }
    ws.removeAllListeners('message');
    if (ws.isPaused) {
      ws.resume();
    }
    const timer = setTimeout(() => {
      if (ws.readyState !== ws.CLOSED) {
        ws.terminate();
      }
    }, graceMs);
    timer.unref();
    ws.once('close', () => clearTimeout(timer));
  };
}

/**
 * The plain-websocket adapter with limits on every gateway: `maxPayload` (ws's default is 100 MiB, so four
 * unauthenticated 95 MB frames took 1 GB), and close-then-terminate (`closeWithGrace`). See
 * docs/operating.md ("Limits and timeouts").
 */
export class BoundedWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly limits: BoundedWsOptions,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> & { path?: string } = {}): WebSocketServer {
    const byPath = options.path !== undefined ? this.limits.maxPayloadByPath?.[options.path] : undefined;
    return super.create(port, {
      ...options,
      maxPayload: options.maxPayload ?? byPath ?? this.limits.maxPayload,
    }) as WebSocketServer;
  }

  override bindClientConnect(server: WebSocketServer, callback: (...args: unknown[]) => void): void {
    const graceMs = this.limits.closeGraceMs ?? 2000;
    super.bindClientConnect(server, (ws: WebSocket, ...rest: unknown[]) => {
      closeWithGrace(ws, graceMs);
      callback(ws, ...rest);
    });
  }
}
