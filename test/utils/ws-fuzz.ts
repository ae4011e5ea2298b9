/**
 * Websocket checks for any gateway path: Prefect's auth handshake (docs/reference.md §3.1) and hostile frames. A clean
 * answer to garbage is a close with a meaningful code (or the socket simply carrying on), never an abnormal
 * close (1006: the server dropped the connection) or 1011 (an internal error).
 */
import fc from 'fast-check';
import { WebSocket } from 'ws';

export type Frame = string | { binary: Buffer } | { invalidUtf8Text: Buffer };

export interface WsOutcome {
  /** The server closed the socket (else it was still open when we stopped waiting). */
  closed: boolean;
  code?: number;
  reason?: string;
  messages: string[];
}

/** Close codes that answer bad input cleanly: normal, going away, protocol, unsupported, invalid data, policy, too big, and the application range. */
export function isCleanClose(code: number): boolean {
  return [1000, 1001, 1002, 1003, 1007, 1008, 1009].includes(code) || (code >= 4000 && code <= 4999);
}

/**
 * Opens `url` (offering `protocols`), sends `frames`, then waits until the server closes or `idleMs` pass
 * without anything from it; closes it then. Rejects if it cannot connect at all.
 */
export function exchange(
  url: string,
  frames: Frame[],
  {
    protocols = ['prefect'],
    idleMs = 300,
    headers,
  }: { protocols?: string[]; idleMs?: number; headers?: Record<string, string> } = {},
): Promise<WsOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    const messages: string[] = [];
    let opened = false;
    let idle: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (outcome: WsOutcome): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(idle);
      resolve(outcome);
    };
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        settle({ closed: false, messages });
        ws.terminate();
      }, idleMs);
    };
    ws.on('open', () => {
      opened = true;
      for (const f of frames) {
        if (ws.readyState !== ws.OPEN) {
          break;
        }
        if (typeof f === 'string') {
          ws.send(f);
        } else if ('binary' in f) {
          ws.send(f.binary, { binary: true });
        } else {
          ws.send(f.invalidUtf8Text, { binary: false });
        }
      }
      armIdle();
    });
    ws.on('message', (data) => {
      messages.push(data.toString());
      armIdle();
    });
    ws.on('close', (code, reason) => settle({ closed: true, code, reason: reason.toString(), messages }));
    ws.on('error', (err) => {
      if (!opened) {
        reject(err);
      }
    });
  });
}

export const authFrame = (token: string | null): string => JSON.stringify({ type: 'auth', token });

/** Hostile frames: malformed or wrongly-shaped JSON, binary, invalid UTF-8, huge, deeply nested. */
export const nastyFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.constantFrom<Frame>(
    '',
    '{',
    '{"type":',
    'null',
    '[]',
    '"auth"',
    '{"type":null}',
    '{"type":"auth","token":{}}',
  ),
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        type: fc.oneof(
          fc.constantFrom('auth', 'subscribe', 'filter', 'ack', 'quit', 'event', ''),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        token: fc.jsonValue({ maxDepth: 2 }),
        keys: fc.jsonValue({ maxDepth: 2 }),
        client_id: fc.jsonValue({ maxDepth: 2 }),
        filter: fc.jsonValue({ maxDepth: 3 }),
        backfill: fc.jsonValue({ maxDepth: 1 }),
        occurred: fc.oneof(
          fc.constantFrom('2026-13-45T00:00:00Z', 'not a date'),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        id: fc.oneof(fc.constantFrom('not-a-uuid'), fc.uuid(), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ binary: Buffer.from(b) })),
  fc.constant<Frame>({ invalidUtf8Text: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }),
  fc.integer({ min: 300, max: 20_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
  fc
    .integer({ min: 100_000, max: 1_500_000 })
    .map((n) => JSON.stringify({ type: 'event', event: 'x'.repeat(n) })),
);

/**
 * The handshake every Prefect socket must enforce when an auth string is set. Returns what went wrong (empty
 * when the socket behaves), so a test can report every path at once.
 */
export async function websocketAuthProblems(url: string, authString: string): Promise<string[]> {
  const problems: string[] = [];
  const expectClose = (name: string, out: WsOutcome, code: number, reason?: string): void => {
    if (!out.closed || out.code !== code || (reason !== undefined && out.reason !== reason)) {
      problems.push(
        `${name}: expected close ${code}${reason ? ` "${reason}"` : ''}, got ${JSON.stringify(out)}`,
      );
    }
  };
  expectClose(
    'no prefect subprotocol',
    await exchange(url, [authFrame(authString)], { protocols: [] }),
    1002,
  );
  expectClose('wrong token', await exchange(url, [authFrame('wrong')]), 1008, 'Invalid token');
  expectClose(
    'no token',
    await exchange(url, [authFrame(null)]),
    1008,
    'Auth required but no token provided',
  );
  expectClose(
    'first frame not auth',
    await exchange(url, ['{"type":"subscribe"}']),
    1008,
    "Expected 'auth' message",
  );
  const ok = await exchange(url, [authFrame(authString)]);
  if (
    ok.messages[0] === undefined ||
    (JSON.parse(ok.messages[0]) as { type?: unknown }).type !== 'auth_success'
  ) {
    problems.push(`right token: expected auth_success, got ${JSON.stringify(ok)}`);
  }
  return problems;
}

/**
 * Fuzzes one socket path for about `budgetMs`: each run connects, usually authenticates, then sends 1–4
 * hostile frames. Throws (with the frames, shrunk off) when the server drops the connection or closes it with
 * an unclean code.
 */
export async function fuzzWebsocket(
  url: string,
  { token, budgetMs = 5000, seed }: { token: string | null; budgetMs?: number; seed?: number },
): Promise<number> {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.array(nastyFrame, { minLength: 1, maxLength: 4 }),
      async (authenticate, frames) => {
        runs += 1;
        const sent = authenticate ? [authFrame(token), ...frames] : frames;
        const out = await exchange(url, sent, { idleMs: 150 });
        if (out.closed && !isCleanClose(out.code!)) {
          throw new Error(`unclean close ${out.code} "${out.reason}" after ${describeFrames(sent)}`);
        }
      },
    ),
    {
      numRuns: 10_000,
      interruptAfterTimeLimit: budgetMs,
      markInterruptAsFailure: false,
      endOnFailure: true,
      seed,
    },
  );
  return runs;
}

function describeFrames(frames: Frame[]): string {
  return JSON.stringify(
    frames.map((f) =>
      typeof f === 'string'
        ? f.length > 120
          ? `${f.slice(0, 120)}… (${f.length} chars)`
          : f
        : 'binary' in f
          ? `<binary ${f.binary.length} B>`
          : '<invalid UTF-8 text>',
    ),
  );
}
