import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './time/clock';

/** Cross-cutting providers every module may inject: the clock (a port, replaceable in tests). */
@Global()
@Module({
  providers: [{ provide: Clock, useClass: SystemClock }],
  exports: [Clock],
})
export class CommonModule {}
