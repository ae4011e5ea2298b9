import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import {
  CloseCode,
  PREFECT_SUBPROTOCOL,
  PrefectSocket,
  prefectHandshake,
  secretsEqual,
} from './prefect-socket';

interface Outcome {
  code: number;
  reason: string;
  messages: unknown[];
}

/**
 * A real `ws` server on a free port whose connections run `prefectHandshake` and then echo one frame, so
 * the tests observe exactly what a client sees (close codes, reasons, frames).
 */
async function startServer(authString: string | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => (protocols.has(PREFECT_SUBPROTOCOL) ? PREFECT_SUBPROTOCOL : false),
  });
  wss.on('connection', (ws) => {
    const socket = new PrefectSocket(ws);
    void (async () => {
      if (!(await prefectHandshake(socket, authString))) {
        return;
      }
      const next = await socket.receive();
      if (next !== null && next !== undefined) {
        await socket.send({ type: 'echo', frame: next });
      }
      socket.close(CloseCode.NORMAL, 'done');
    })().catch(() => socket.close(1011));
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) {
          client.terminate();
        }
        wss.close(() => resolve());
      }),
  };
}

function converse(url: string, protocols: string[], frames: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const messages: unknown[] = [];
    const timer = setTimeout(() => reject(new Error('no close within 5 s')), 5000);
    ws.on('open', () => {
      for (const f of frames) {
        ws.send(f);
      }
    });
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), messages });
    });
    ws.on('error', () => undefined);
  });
}

describe('prefectHandshake', () => {
  describe('with an auth string', () => {
    let server: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => (server = await startServer('admin:pass')));
    afterAll(async () => server.close());

    it('should answer auth_success to the right token, then carry on', async () => {
      const out = await converse(
        server.url,
        [PREFECT_SUBPROTOCOL],
        [JSON.stringify({ type: 'auth', token: 'admin:pass' }), 'hello'],
      );
      expect(out.messages).toEqual([{ type: 'auth_success' }, { type: 'echo', frame: 'hello' }]);
      expect(out.code).toBe(CloseCode.NORMAL);
    });

    it('should close 1008 "Invalid token" on a wrong token', async () => {
      const out = await converse(
        server.url,
        [PREFECT_SUBPROTOCOL],
        [JSON.stringify({ type: 'auth', token: 'nope' })],
      );
      expect(out).toEqual({ code: 1008, reason: 'Invalid token', messages: [] });
    });

    it.each([
      ['a null token', { type: 'auth', token: null }],
      ['no token', { type: 'auth' }],
      ['an empty token', { type: 'auth', token: '' }],
    ])('should close 1008 "Auth required but no token provided" on %s', async (_name, frame) => {
      const out = await converse(server.url, [PREFECT_SUBPROTOCOL], [JSON.stringify(frame)]);
      expect(out).toEqual({ code: 1008, reason: 'Auth required but no token provided', messages: [] });
    });

    it.each([
      ['another message type', JSON.stringify({ type: 'subscribe', keys: ['k'] })],
      ['a frame that is not JSON', '{"type":'],
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
    ])('should close 1008 "Expected \'auth\' message" on %s', async (_name, frame) => {
      const out = await converse(server.url, [PREFECT_SUBPROTOCOL], [frame]);
      expect(out).toEqual({ code: 1008, reason: "Expected 'auth' message", messages: [] });
    });

    it('should close 1002 a client that does not offer the prefect subprotocol', async () => {
      const out = await converse(server.url, [], ['hello']);
      expect(out.code).toBe(1002);
      expect(out.messages).toEqual([]);
    });
  });

  describe('without an auth string', () => {
    let server: Awaited<ReturnType<typeof startServer>>;
    beforeAll(async () => (server = await startServer(undefined)));
    afterAll(async () => server.close());

    it('should accept any token', async () => {
      const out = await converse(
        server.url,
        [PREFECT_SUBPROTOCOL],
        [JSON.stringify({ type: 'auth', token: 'whatever' }), 'x'],
      );
      expect(out.messages).toEqual([{ type: 'auth_success' }, { type: 'echo', frame: 'x' }]);
    });

    it('should accept a null token', async () => {
      const out = await converse(
        server.url,
        [PREFECT_SUBPROTOCOL],
        [JSON.stringify({ type: 'auth', token: null }), 'x'],
      );
      expect(out.messages).toEqual([{ type: 'auth_success' }, { type: 'echo', frame: 'x' }]);
    });

    it('should still expect the auth message first with the subprotocol', async () => {
      const out = await converse(server.url, [PREFECT_SUBPROTOCOL], ['x']);
      expect(out).toEqual({ code: 1008, reason: "Expected 'auth' message", messages: [] });
    });

    it('should run legacy mode (no auth message) without the subprotocol', async () => {
      const out = await converse(server.url, [], ['first frame is data']);
      expect(out.messages).toEqual([{ type: 'echo', frame: 'first frame is data' }]);
      expect(out.code).toBe(CloseCode.NORMAL);
    });
  });
});

describe('secretsEqual', () => {
  it('should compare exactly, whatever the lengths', () => {
    expect(secretsEqual('a', 'a')).toBe(true);
    expect(secretsEqual('a', 'b')).toBe(false);
    expect(secretsEqual('a', 'aa')).toBe(false);
    expect(secretsEqual('', '')).toBe(true);
  });
});
