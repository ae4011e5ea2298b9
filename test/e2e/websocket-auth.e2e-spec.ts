import { createTestApp, TestApp } from '../utils/create-test-app';
import { discoverWebsocketPaths } from '../utils/discovery';
import { PROBE_SOCKET_PATH, ProbeModule } from '../utils/probe.module';
import { authFrame, exchange, websocketAuthProblems } from '../utils/ws-fuzz';

const AUTH_STRING = 'admin:s3cret';

/**
 * Every websocket gateway of the app (found at test time, so sockets merged later are covered) enforces the
 * auth string in its `auth` message: 1002 without the `prefect` subprotocol, 1008 with upstream's reasons.
 */
describe('websocket auth (PREFECT_SERVER_API_AUTH_STRING)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ imports: [ProbeModule], env: { PREFECT_SERVER_API_AUTH_STRING: AUTH_STRING } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('should find the gateways of the app', () => {
    expect(discoverWebsocketPaths(t.app)).toContain(PROBE_SOCKET_PATH);
  });

  it('should enforce the handshake on every socket', async () => {
    const report: Record<string, string[]> = {};
    for (const path of discoverWebsocketPaths(t.app)) {
      report[path] = await websocketAuthProblems(`${t.wsUrl}${path}`, AUTH_STRING);
    }
    const expected = Object.fromEntries(Object.keys(report).map((p) => [p, []]));
    expect(report).toEqual(expected);
  });

  it('should not take HTTP basic auth on the upgrade instead of the auth message', async () => {
    const out = await exchange(`${t.wsUrl}${PROBE_SOCKET_PATH}`, ['{"type":"ping"}'], {
      headers: { Authorization: `Basic ${Buffer.from(AUTH_STRING).toString('base64')}` },
    });
    expect(out).toMatchObject({ closed: true, code: 1008, reason: "Expected 'auth' message" });
  });

  it('should serve an authenticated socket', async () => {
    const out = await exchange(`${t.wsUrl}${PROBE_SOCKET_PATH}`, [authFrame(AUTH_STRING), '{"type":"ping"}']);
    expect(out.messages.map((m) => JSON.parse(m) as unknown)).toEqual([
      { type: 'auth_success' },
      { type: 'pong' },
    ]);
  });
});
