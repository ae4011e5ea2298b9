import type { Logger } from '@nestjs/common';
import { Subscription } from './event-bus';

/** A durable adapter's consumer: started once registered, closed through the handle `subscribe` returns. */
export interface StartableSubscription {
  start(): void;
  close(): Promise<void>;
}

/**
 * The subscribe bookkeeping the PostgreSQL and Redis adapters share: adds the consumer to the adapter's set,
 * starts it, and returns the handle whose `close` removes it, closes it, then runs `afterClose` (e.g. dropping
 * an ephemeral group).
 */
export function trackSubscription<S extends StartableSubscription>(
  subscriptions: Set<S>,
  sub: S,
  afterClose?: () => Promise<unknown>,
): Subscription {
  subscriptions.add(sub);
  sub.start();
  return {
    close: async () => {
      subscriptions.delete(sub);
      await sub.close();
      if (afterClose) {
        await afterClose();
      }
    },
  };
}

/**
 * The adapter's trim timer: every `everyMs` runs `trim` (failures logged, never thrown); unref'd so it never keeps
 * the process alive. Undefined when `everyMs` is not positive (trimming off). Call it only while no timer runs.
 */
export function armTrimTimer(
  everyMs: number,
  trim: () => Promise<unknown>,
  logger: Logger,
): NodeJS.Timeout | undefined {
  if (everyMs <= 0) {
    return undefined;
  }
  const timer = setInterval(() => {
    void trim().catch((err: unknown) => logger.warn({ msg: 'trim failed', error: String(err) }));
  }, everyMs);
  timer.unref?.();
  return timer;
}
