import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<L>;
    return new Counter<L>({
      name,
      help,
      labelNames: [...labelNames],
      registers: [this.registry],
      ...(collect
        ? {
            collect(this: Counter<L>) {
              return collect(this);
            },
          }
        : {}),
    });
  }

  gauge<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (gauge: Gauge<L>) => void | Promise<void>,
  ): Gauge<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Gauge<L>;
    return new Gauge<L>({
      name,
      help,
      labelNames: [...labelNames],
      registers: [this.registry],
      ...(collect
        ? {
            collect(this: Gauge<L>) {
              return collect(this);
            },
          }
        : {}),
    });
  }

  histogram<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets?: number[],
  ): Histogram<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Histogram<L>;
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
