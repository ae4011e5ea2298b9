import { ManagedService } from './managed-service';

/** Longest wait before retrying a failed iteration (seconds). */
const MAX_RETRY_DELAY_SECONDS = 30;

/**
 * A service that calls `runOnce()` every `loopSeconds`. Iterations never overlap; a failing iteration is
 * logged and counted and the loop goes on. `runOnce()` is public so tests can drive it deterministically.
 */
export abstract class LoopService extends ManagedService {
  protected abstract loopSeconds(): number;
  abstract runOnce(): Promise<void>;

  iterations = 0;
  failures = 0;
  consecutiveFailures = 0;
  lastError?: string;

  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private stopping = false;

  /** Extra work before the first iteration. */
  protected async beforeLoop(): Promise<void> {}

  /** Flush buffered work at shutdown; the database is still open. */
  protected async drain(): Promise<void> {}

  protected async onStart(): Promise<void> {
    this.stopping = false;
    await this.beforeLoop();
    this.schedule(0);
  }

  protected async onStop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.inFlight;
    await this.drain();
  }

  /**
   * The loop interval; after a failure, sooner: 1 s, 2 s, 4 s … up to 30 s (never later than the interval).
   * A service with a long interval (retention: an hour) that failed during a database outage thus clears its
   * problem, and `/api/ready`, seconds after the database is back rather than an interval later.
   */
  protected nextDelaySeconds(): number {
    const interval = this.loopSeconds();
    if (this.consecutiveFailures === 0) {
      return interval;
    }
    const backoff = Math.min(MAX_RETRY_DELAY_SECONDS, 2 ** Math.min(this.consecutiveFailures - 1, 10));
    return Math.min(interval, backoff);
  }

  private schedule(delayMs: number): void {
    if (this.stopping) {
      return;
    }
    this.timer = setTimeout(() => this.tick(), delayMs);
    this.timer.unref?.();
  }

  private tick(): void {
    if (this.inFlight || this.stopping) {
      return;
    }
    this.inFlight = this.runOnce()
      .then(() => {
        this.consecutiveFailures = 0;
        this.reportProblem(undefined);
      })
      .catch((err: unknown) => {
        this.failures += 1;
        this.consecutiveFailures += 1;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.reportProblem(`last iteration failed: ${this.lastError}`);
        this.logger.error({ msg: 'iteration failed', error: err instanceof Error ? err.stack : String(err) });
      })
      .finally(() => {
        this.iterations += 1;
        this.inFlight = undefined;
        this.schedule(this.nextDelaySeconds() * 1000);
      });
  }
}
