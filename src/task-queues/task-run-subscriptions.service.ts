import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { CloseCode, PrefectSocket, prefectHandshake } from '../common/websocket/prefect-socket';
import { AppConfig } from '../config/app-config';
import { parseReply, parseSubscribe, UNEXPECTED_ACK_REASON } from './subscribe-message';
import { MultiQueue } from './task-queue';
import { Delivery, ReturnReason, TaskQueueStore } from './task-queue.store';
import { TaskQueuesMetrics } from './task-queues.metrics';
import { TaskWorkersService } from './task-workers.service';

/** How long a subscriber waits for a run before probing liveness (docs/reference.md §3.2). */
export const SUBSCRIBER_WAIT_MS = 1000;
/** A socket that has not answered a ping for this long is dead. */
export const LIVENESS_TIMEOUT_MS = 10_000;
/** How often a socket is pinged when no ping is outstanding, busy or idle (see `keepAlive`). */
export const PING_INTERVAL_MS = 1000;
/**
 * Runs a socket may hold claimed but unsent while its key's backlog is deep (one otherwise); with the run the
 * worker is handling, at most PREFETCH_WINDOW + 1 runs per socket are leased (docs/task-queues.md).
 */
export const PREFETCH_WINDOW = 2;
/** Close code and reason sent to task workers when this replica shuts down. */
export const GOING_AWAY = { code: 1001, reason: 'Server shutting down' } as const;

/**
 * The `/api/task_runs/subscriptions/scheduled` protocol (docs/reference.md §3.1–3.2) over the `TaskQueueStore` port:
 * handshake, subscribe, then deliver one run at a time and wait for its `ack` / `quit`. A run is leased to
 * exactly one socket; a close, send error or bad reply returns it to its key's retry queue.
 */
@Injectable()
export class TaskRunSubscriptionsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskRunSubscriptionsService.name);
  private readonly sessions = new Map<PrefectSocket, Promise<void>>();
  private stopping = false;

  constructor(
    private readonly store: TaskQueueStore,
    private readonly workers: TaskWorkersService,
    private readonly config: AppConfig,
    private readonly metrics: TaskQueuesMetrics,
  ) {}

  /** Serves one task-worker socket until it ends; never rejects. */
  handle(ws: WebSocket): Promise<void> {
    const socket = new PrefectSocket(ws);
    if (this.stopping) {
      socket.close(GOING_AWAY.code, GOING_AWAY.reason);
      return Promise.resolve();
    }
    this.metrics.sockets.inc();
    const session = this.serve(socket)
      .catch((err: unknown) => {
        this.logger.error({
          msg: 'task-worker socket failed',
          error: err instanceof Error ? err.stack : String(err),
        });
        socket.close(1011, 'Internal error');
      })
      .finally(() => {
        this.sessions.delete(socket);
        this.metrics.sockets.dec();
      });
    this.sessions.set(socket, session);
    return session;
  }

  /** Closes every socket (their unacked runs go back to the retry queue) and waits for them to finish. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const socket of this.sessions.keys()) {
      socket.close(GOING_AWAY.code, GOING_AWAY.reason);
    }
    const all = Promise.all(this.sessions.values());
    await Promise.race([all, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  private async serve(socket: PrefectSocket): Promise<void> {
    if (!(await prefectHandshake(socket, this.config.api.authString))) {
      return;
    }
    const first = await socket.receiveJson();
    if (first === null || first === undefined) {
      return;
    }
    const subscription = parseSubscribe('value' in first ? first.value : undefined);
    if (!subscription.ok) {
      socket.close(CloseCode.SUBSCRIPTION_PROTOCOL_VIOLATION, subscription.reason);
      return;
    }
    const { keys, clientId } = subscription;
    const session = Symbol(clientId);
    const closed = new AbortController();
    socket.ws.once('close', () => closed.abort());
    if (socket.closed) {
      closed.abort();
    }
    try {
      await this.deliverLoop(socket, session, clientId, new MultiQueue(this.store, keys), closed.signal);
    } finally {
      await this.workers.forget(session, clientId).catch((e: unknown) => this.warn('forget worker', e));
    }
  }

  private async deliverLoop(
    socket: PrefectSocket,
    session: symbol,
    clientId: string,
    queue: MultiQueue,
    closed: AbortSignal,
  ): Promise<void> {
    const stopKeepAlive = keepAlive(socket);
    /**
     * Claims made ahead of need, oldest first, not sent yet (the prefetch window, docs/task-queues.md). One
     * while the key's backlog looks shallow; PREFETCH_WINDOW once a claim made ahead found a run.
     */
    const ahead: Promise<Delivery | null>[] = [];
    let deep = false;
    const acks = new Set<Promise<void>>();
    try {
      while (!socket.closed && !this.stopping) {
        await this.workers
          .observe(session, clientId, queue.keys)
          .catch((e: unknown) => this.warn('observe worker', e));
        let delivery: Delivery | null = null;
        while (!delivery && ahead.length) {
          delivery = await ahead.shift()!;
          deep = delivery !== null;
        }
        delivery ??= await queue.get({ timeoutMs: SUBSCRIBER_WAIT_MS, signal: closed });
        if (!delivery) {
          if (!(await this.isAlive(socket))) {
            return;
          }
          continue;
        }
        if (socket.closed || this.stopping) {
          return this.giveBack(delivery, this.stopping ? 'shutdown' : 'closed');
        }
        try {
          await socket.send(delivery.snapshot);
        } catch {
          return this.giveBack(delivery, 'send_error');
        }
        this.countDelivery(delivery);
        // While the worker answers, lease the next run(s) so one can go out as soon as the ack arrives.
        while (ahead.length < (deep ? PREFETCH_WINDOW : 1)) {
          ahead.push(
            this.store.claim(queue.keys).catch((e: unknown) => {
              this.warn('prefetch', e);
              return null;
            }),
          );
        }
        const reply = await socket.receiveJson();
        if (reply === null || reply === undefined) {
          return this.giveBack(delivery, this.stopping ? 'shutdown' : 'closed');
        }
        switch (parseReply('value' in reply ? reply.value : undefined)) {
          case 'ack': {
            // The ack is written while the next run goes out; a lost ack only means a redelivery.
            const ack: Promise<void> = this.store
              .ack(delivery)
              .then(() => undefined)
              .catch((e: unknown) => this.warn('ack', e))
              .finally(() => acks.delete(ack));
            acks.add(ack);
            await this.workers
              .observe(session, clientId, [delivery.taskKey])
              .catch((e: unknown) => this.warn('observe worker', e));
            break;
          }
          case 'quit':
            await this.store.ack(delivery);
            socket.close(CloseCode.NORMAL);
            return;
          case 'other':
            await this.giveBack(delivery, 'protocol_violation');
            socket.close(CloseCode.SUBSCRIPTION_PROTOCOL_VIOLATION, UNEXPECTED_ACK_REASON);
            return;
        }
      }
    } finally {
      stopKeepAlive();
      // Runs claimed ahead but never sent go back to their original places (their sequence is kept).
      const unsent = await Promise.all(ahead.splice(0));
      await Promise.all(
        unsent.map(async (d) => {
          if (d) {
            await this.store.unclaim(d).catch((e: unknown) => this.warn('unclaim', e));
          }
        }),
      );
      await Promise.all(acks);
    }
  }

  /**
   * After an idle wait: frames sent while idle are discarded (as upstream's probe does) and a closed socket
   * ends the session. Whether the peer still answers is `keepAlive`'s job, which runs busy or idle.
   */
  private async isAlive(socket: PrefectSocket): Promise<boolean> {
    for (;;) {
      const frame = await socket.receive(0);
      if (frame === null) {
        return false;
      }
      if (frame === undefined) {
        break;
      }
    }
    if (socket.closed) {
      return false;
    }
    return !socket.closed;
  }

  private countDelivery(delivery: Delivery): void {
    const labels = { task_key: delivery.taskKey };
    this.metrics.deliveries.inc(labels);
    if (delivery.attempts > 1) {
      this.metrics.redeliveries.inc(labels);
    }
    const waited = (Date.now() - Date.parse(delivery.enqueuedAt)) / 1000;
    this.metrics.waitSeconds.observe(labels, Math.max(0, waited));
  }

  /** Returns a delivery to the retry queue; if the database is unreachable its lease expiry does it. */
  private async giveBack(delivery: Delivery, reason: ReturnReason): Promise<void> {
    await this.store.retry(delivery, reason).catch((e: unknown) => this.warn('return delivery', e));
  }

  private warn(what: string, err: unknown): void {
    this.logger.warn({
      msg: `task-worker socket: ${what} failed`,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * Pings `socket` every PING_INTERVAL_MS while no ping is outstanding and terminates it when a ping has gone
 * unanswered for LIVENESS_TIMEOUT_MS, whatever the session is doing: idle, or awaiting a worker's ack (a
 * half-open connection there would otherwise hold its run forever, its lease renewed). The clock starts at the
 * ping, not at the last pong, so a session that was busy for a long stretch without pinging is not taken for
 * dead (docs/task-queues.md, "Liveness"). Returns the function that stops it.
 */
export function keepAlive(socket: PrefectSocket): () => void {
  let outstandingSince: number | undefined;
  const onPong = (): void => {
    outstandingSince = undefined;
  };
  socket.ws.on('pong', onPong);
  const timer = setInterval(() => {
    if (socket.closed) {
      return;
    }
    const now = Date.now();
    if (outstandingSince === undefined) {
      outstandingSince = now;
      socket.ws.ping();
    } else if (now - outstandingSince > LIVENESS_TIMEOUT_MS) {
      socket.ws.terminate();
    }
  }, PING_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    socket.ws.off('pong', onPong);
  };
}
