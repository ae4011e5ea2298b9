import { ManagedService } from './managed-service';

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

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => this.tick(), delayMs);
    this.timer.unref?.();
  }

  private tick(): void {
    if (this.inFlight || this.stopping) return;
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
        this.schedule(this.loopSeconds() * 1000);
      });
  }
}
