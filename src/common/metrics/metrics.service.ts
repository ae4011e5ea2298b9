import { Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Longest a metric's scrape-time `collect` may take; past it, the metric keeps its last values. */
export const COLLECT_TIMEOUT_MS = 1000;

const logger = new Logger('MetricsService');

/**
 * A scrape must answer even when a `collect` callback cannot (e.g. it queries a database that is partitioned
 * away): each one is bounded by COLLECT_TIMEOUT_MS and its errors are swallowed (logged at debug), so the
 * metric keeps its last values instead of failing or hanging `GET /api/metrics`.
 */
export function guardCollect<M>(name: string, collect: (metric: M) => void | Promise<void>) {
  return async (metric: M): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => collect(metric)),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            logger.debug({ msg: 'collect timed out', metric: name, ms: COLLECT_TIMEOUT_MS });
            resolve();
          }, COLLECT_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      logger.debug({ msg: 'collect failed', metric: name, error: String(err) });
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * The Prometheus registry of this process (one per app instance, so tests with several apps do not
 * collide). Feature code creates its metrics here with get-or-create helpers; `GET /api/metrics` renders
 * them. Label values must be bounded (task keys, services, routes: never run ids).
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  counter<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    /** Computes the values at scrape time (e.g. from a cumulative field kept elsewhere). */
    collect?: (counter: Counter<L>) => void | Promise<void>,
  ): Counter<L> {
    return this.getOrCreate(
      name,
      collect,
      (extra) =>
        new Counter<L>({ name, help, labelNames: [...labelNames], registers: [this.registry], ...extra }),
    );
  }

  gauge<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (gauge: Gauge<L>) => void | Promise<void>,
  ): Gauge<L> {
    return this.getOrCreate(
      name,
      collect,
      (extra) =>
        new Gauge<L>({ name, help, labelNames: [...labelNames], registers: [this.registry], ...extra }),
    );
  }

  /** The registered metric of that name, or a new one whose scrape-time `collect` is bounded (guardCollect). */
  private getOrCreate<M>(
    name: string,
    collect: ((metric: M) => void | Promise<void>) | undefined,
    create: (extra: { collect?: (this: M) => Promise<void> }) => M,
  ): M {
    const existing = this.registry.getSingleMetric(name);
    if (existing) {
      return existing as unknown as M;
    }
    if (!collect) {
      return create({});
    }
    const guarded = guardCollect(name, collect);
    return create({
      collect(this: M) {
        return guarded(this);
      },
    });
  }

  histogram<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets?: number[],
  ): Histogram<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) {
      return existing as Histogram<L>;
    }
    return new Histogram<L>({
      name,
      help,
      labelNames: [...labelNames],
      registers: [this.registry],
      ...(buckets ? { buckets } : {}),
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
