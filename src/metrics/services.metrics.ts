import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DeadLettersService } from '../background/dead-letters/dead-letters.service';
import { LoopService } from '../background/loop-service';
import { ServicesRegistry } from '../background/services.registry';
import { MetricsService } from '../common/metrics/metrics.service';

const DEAD_LETTER_QUERY_TIMEOUT_MS = 1000;

/**
 * Metrics of the services framework, computed at scrape time from the `ServicesRegistry` (so every
 * `@BackgroundService` is covered without wiring): whether each service is enabled and up, the iterations and
 * failures of each `LoopService`, and the dead letters not yet replayed, by source.
 */
@Injectable()
export class ServicesMetrics implements OnModuleInit {
  private readonly logger = new Logger(ServicesMetrics.name);

  constructor(
    private readonly metrics: MetricsService,
    private readonly registry: ServicesRegistry,
    private readonly deadLetters: DeadLettersService,
  ) {}

  onModuleInit(): void {
    this.metrics.gauge(
      'prefect_service_enabled',
      'Whether this process runs the service (its setting and SERVER_RUN_SERVICES), 1 or 0.',
      ['service'],
      (gauge) => {
        for (const s of this.registry.report()) {
          gauge.set({ service: s.name }, s.enabled ? 1 : 0);
        }
      },
    );
    this.metrics.gauge(
      'prefect_service_up',
      'Whether the service is running in this process, 1 or 0.',
      ['service'],
      (gauge) => {
        for (const s of this.registry.report()) {
          gauge.set({ service: s.name }, s.status === 'running' ? 1 : 0);
        }
      },
    );
    this.metrics.counter(
      'prefect_service_loop_iterations_total',
      'Iterations of each loop service in this process (failed ones included).',
      ['service'],
      (counter) => {
        counter.reset();
        for (const { meta, instance } of this.registry.all()) {
          if (instance instanceof LoopService) {
            counter.inc({ service: meta.name }, instance.iterations);
          }
        }
      },
    );
    this.metrics.counter(
      'prefect_service_loop_failures_total',
      'Failed iterations of each loop service in this process.',
      ['service'],
      (counter) => {
        counter.reset();
        for (const { meta, instance } of this.registry.all()) {
          if (instance instanceof LoopService) {
            counter.inc({ service: meta.name }, instance.failures);
          }
        }
      },
    );
    this.metrics.gauge(
      'prefect_dead_letters',
      'Dead letters not yet replayed, by source (read from the database: the same on every replica).',
      ['source'],
      async (gauge) => {
        try {
          const counts = await withTimeout(this.deadLetters.countBySource(), DEAD_LETTER_QUERY_TIMEOUT_MS);
          gauge.reset();
          for (const { source, count } of counts) {
            gauge.set({ source }, count);
          }
        } catch (err) {
          // Keep the last values: a scrape must not fail because the database is down (see /api/ready).
          this.logger.debug({ msg: 'dead letter count unavailable', error: String(err) });
        }
      },
    );
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
