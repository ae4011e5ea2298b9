import { Global, Module } from '@nestjs/common';
import { MetricsService } from './metrics/metrics.service';
import { Clock, SystemClock } from './time/clock';

/** Cross-cutting providers every module may inject: the clock (a port, replaceable in tests) and metrics. */
@Global()
@Module({
  providers: [{ provide: Clock, useClass: SystemClock }, MetricsService],
  exports: [Clock, MetricsService],
})
export class CommonModule {}
