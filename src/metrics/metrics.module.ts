import { Module, OnModuleInit } from '@nestjs/common';
import { collectDefaultMetrics } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';
import { MetricsController } from './metrics.controller';
import { ServicesMetrics } from './services.metrics';

/**
 * `GET /api/metrics`: the process's Prometheus registry (`MetricsService`, where every feature registers its
 * own metrics), Node's default process metrics, and the services framework's metrics. HTTP request metrics
 * come from `httpMetricsMiddleware`, installed by `configureApp`.
 */
@Module({ controllers: [MetricsController], providers: [ServicesMetrics] })
export class MetricsModule implements OnModuleInit {
  constructor(private readonly metrics: MetricsService) {}

  onModuleInit(): void {
    if (!this.metrics.registry.getSingleMetric('process_cpu_user_seconds_total')) {
      collectDefaultMetrics({ register: this.metrics.registry });
    }
  }
}
