import { timingSafeEqual, createHash } from 'node:crypto';
import type { WebSocket } from 'ws';

export const PREFECT_SUBPROTOCOL = 'prefect';

/** Close codes used by Prefect's websocket protocols (docs/reference.md §3). */
export const CloseCode = {
  NORMAL: 1000,
  PROTOCOL_ERROR: 1002,
  POLICY_VIOLATION: 1008,
  SUBSCRIPTION_PROTOCOL_VIOLATION: 4001,
} as const;

/** A close reason cut to the 123 bytes a websocket close frame allows (an ellipsis marks the cut). */
export function closeReason(text: string): string {
  let out = text;
  while (Buffer.byteLength(out, 'utf8') > 123) {
    out = out.slice(0, -2);
  }
  return out === text ? out : `${out.slice(0, -1)}…`;
}

/** Compares two secrets in constant time (hashing first, so lengths leak nothing either). */
export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * A promise-based view of a server-side `ws` socket: `receive()` awaits the next text frame (or null once
 * the socket is closed), `send()` resolves once the frame is written. Incoming frames are buffered; past
 * `highWaterMark` unread frames the socket stops reading from the network (`ws.pause()`) until the reader
 * catches up: backpressure instead of unbounded memory.
 */
export class PrefectSocket {
  private readonly inbox: string[] = [];
  private waiter?: (frame: string | null) => void;
  private isClosed = false;
  /** Frames read ahead before reading pauses: one until the handshake accepted the peer (`accept()`). */
  private inboxLimit = 1;

  constructor(
    readonly ws: WebSocket,
    private readonly highWaterMark = 1000,
  ) {
    ws.on('message', (data, isBinary) => {
      if (this.isClosed) {
        return;
      } // closing: nothing more is read for anyone
      const frame = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(frame);
        return;
      }
      this.inbox.push(frame);
      if (this.inbox.length >= this.inboxLimit) {
        ws.pause();
      }
    });
    ws.on('close', () => this.markClosed());
    ws.on('error', () => this.markClosed());
  }

  /**
   * The peer passed the handshake: read ahead up to `highWaterMark` frames from now on. Before, at most one
   * frame (the auth message) is buffered, so an unauthenticated peer cannot make the server hold more than
   * one message (itself bounded by the socket's `maxPayload`).
   */
  accept(): void {
    this.inboxLimit = this.highWaterMark;
    if (this.ws.isPaused && this.inbox.length < this.inboxLimit / 2) {
      this.ws.resume();
    }
  }

  /** The subprotocol the client offered and we accepted ('' when none). */
  get protocol(): string {
    return this.ws.protocol;
  }

  get closed(): boolean {
    return this.isClosed || this.ws.readyState !== this.ws.OPEN;
  }

  /** The next text frame; null when the socket closed; `undefined` when `timeoutMs` passed first. */
  receive(timeoutMs?: number): Promise<string | null | undefined> {
    const queued = this.inbox.shift();
    if (queued !== undefined) {
      if (this.inbox.length < this.inboxLimit / 2 && this.ws.isPaused) {
        this.ws.resume();
      }
      return Promise.resolve(queued);
    }
    if (this.isClosed) {
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.waiter = (frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiter = undefined;
          resolve(undefined);
        }, timeoutMs);
      }
    });
  }

  /** The next frame parsed as JSON; a frame that is not JSON gives `{ invalid: frame }`. */
  async receiveJson(
    timeoutMs?: number,
  ): Promise<{ value: unknown } | { invalid: string } | null | undefined> {
    const frame = await this.receive(timeoutMs);
    if (frame === null || frame === undefined) {
      return frame;
    }
    try {
      return { value: JSON.parse(frame) as unknown };
    } catch {
      return { invalid: frame };
    }
  }

  send(message: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        return reject(new Error('socket closed'));
      }
      this.ws.send(typeof message === 'string' ? message : JSON.stringify(message), (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  /**
   * Closes with `code`; the buffered frames are dropped and reading resumes, so the peer's close frame is
   * seen (the adapter also terminates the socket if the peer does not answer within WEBSOCKET_CLOSE_GRACE).
   */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(code, reason);
    }
    this.inbox.length = 0;
    if (this.ws.isPaused) {
      this.ws.resume();
    }
    this.markClosed();
  }

  private markClosed(): void {
    this.isClosed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(null);
    }
  }
}

/**
 * Prefect's websocket handshake (docs/reference.md §3.1). With the `prefect` subprotocol the first frame must be
 * `{"type":"auth","token":…}`, answered `{"type":"auth_success"}` or closed 1008; without it the socket is
 * in legacy mode (no auth frame) unless an auth string is configured, which closes it 1002.
 * Resolves true when the socket may proceed; on false it has been closed.
 */
export async function prefectHandshake(
  socket: PrefectSocket,
  authString: string | undefined,
): Promise<boolean> {
  if (socket.protocol !== PREFECT_SUBPROTOCOL) {
    if (authString) {
      socket.close(CloseCode.PROTOCOL_ERROR, 'Auth required: use the prefect subprotocol');
      return false;
    }
    socket.accept();
    return true; // legacy mode
  }
  const first = await socket.receiveJson();
  if (first === null || first === undefined) {
    return false;
  }
  const message = 'value' in first ? first.value : undefined;
  if (!message || typeof message !== 'object' || (message as { type?: unknown }).type !== 'auth') {
    socket.close(CloseCode.POLICY_VIOLATION, "Expected 'auth' message");
    return false;
  }
  if (authString) {
    const token = (message as { token?: unknown }).token;
    if (typeof token !== 'string' || token === '') {
      socket.close(CloseCode.POLICY_VIOLATION, 'Auth required but no token provided');
      return false;
    }
    if (!secretsEqual(token, authString)) {
      socket.close(CloseCode.POLICY_VIOLATION, 'Invalid token');
      return false;
    }
  }
  await socket.send({ type: 'auth_success' });
  socket.accept();
  return true;
}
