import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ServerTimeouts {
  /** Seconds a connection may stay open without starting a request (also between bytes of its first head). */
  idleConnectionTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
}

/**
 * Node's HTTP server limits, from settings, plus one Node lacks: a connection that never sends a complete
 * request head is closed after `idleConnectionTimeout` seconds of silence (Node only times out requests it
 * has started to receive, so an idle TCP connection stayed open indefinitely). Once a request head is in,
 * Node's own timers take over: `requestTimeout` for the whole request, `keepAliveTimeout` between
 * requests; websockets clear socket timeouts when they upgrade. See docs/operating.md ("Limits and
 * timeouts").
 */
export function applyServerTimeouts(server: Server, t: ServerTimeouts): void {
  server.headersTimeout = Math.round(t.headersTimeout * 1000);
  server.requestTimeout = Math.round(t.requestTimeout * 1000);
  server.keepAliveTimeout = Math.round(t.keepAliveTimeout * 1000);
  const idleMs = Math.round(t.idleConnectionTimeout * 1000);
  const waiting = new WeakSet<Socket>();
  server.on('connection', (socket: Socket) => {
    waiting.add(socket);
    socket.setTimeout(idleMs);
  });
  const started = (socket: Socket): void => {
    if (!waiting.has(socket)) {
      return;
    }
    waiting.delete(socket);
    socket.setTimeout(0);
  };
  server.on('request', (req: { socket: Socket }) => started(req.socket));
  server.on('upgrade', (req: { socket: Socket }) => started(req.socket));
}
