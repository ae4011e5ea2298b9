/**
 * A TCP proxy for fault injection: point an app's DATABASE_URL or REDIS_URL at it, then `cut()` to simulate
 * the server going away (every open connection is reset and new ones are refused, as during a restart) and
 * `restore()` to bring it back. Only this app's connections are affected, never the shared server.
 */
import { createServer, Server, Socket } from 'node:net';

export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[client: Socket, upstream: Socket]>();
  private silent = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Rewrites a URL (postgres://…, redis://…) to go through this proxy. */
  static async forUrl(url: string): Promise<{ proxy: TcpProxy; url: string }> {
    const u = new URL(url);
    const defaultPort = u.protocol.startsWith('redis') ? 6379 : 5432;
    const proxy = new TcpProxy(u.hostname, Number(u.port || defaultPort));
    await proxy.restore();
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    return { proxy, url: u.toString() };
  }

  /** Accepts and forwards connections again (on the same port). */
  async restore(): Promise<void> {
    if (this.silent) {
      // Connections held silent by a blackhole would hang their clients forever: reset them.
      for (const s of this.sockets) {
        s.resetAndDestroy();
      }
      this.sockets.clear();
    }
    this.silent = false;
    if (this.server) {
      return;
    }
    this.silent = false;
    const server = createServer((client) => {
      this.track(client);
      client.on('error', () => client.destroy());
      if (this.silent) {
        return;
      } // blackhole: accept, never answer
      const upstream = new Socket();
      this.track(upstream);
      upstream.connect(this.targetPort, this.targetHost);
      client.pipe(upstream).pipe(client);
      this.pairs.add([client, upstream]);
      const close = (): void => {
        this.pairs.forEach((p) => p[0] === client && this.pairs.delete(p));
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Resets every open connection and refuses new ones until `restore()`. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) {
      s.resetAndDestroy();
    }
    this.sockets.clear();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /**
   * A network partition: open connections are reset, new ones are accepted but nothing ever answers (so
   * only timeouts notice). `restore()` ends it.
   */
  async blackhole(): Promise<void> {
    await this.cut();
    await this.restore();
    this.silent = true;
  }

  /**
   * Half-open connections: every open connection stays open but nothing passes any more in either direction
   * and nobody is told (no FIN, no RST), as when a peer's host vanishes. `cut()` ends them.
   */
  freeze(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}
