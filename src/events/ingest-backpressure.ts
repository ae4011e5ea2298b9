import { Injectable } from '@nestjs/common';
import { ServiceUnavailableError, TooManyRequestsError } from '../common/errors/domain.error';
import { AppConfig } from '../config/app-config';
import { EventBus } from './bus/event-bus';

/**
 * The back-pressure port of ingestion: may `count` more events be accepted now? Ingestion asks it before
 * publishing and knows nothing about the bus adapter or the consumers behind it.
 */
export abstract class IngestBackpressure {
  /** Throws TooManyRequestsError (429 + Retry-After) when saturated, ServiceUnavailableError when closing. */
  abstract admit(count: number): void;

  /** False while `admit` would refuse (the websocket stops reading instead). */
  hasRoom(): boolean {
    try {
      this.admit(1);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Default: saturated while some durable consumer group (the persister, the recorder, wherever they run) is
 * `…_EVENT_PERSISTER_QUEUE_MAX_SIZE` events or more behind, as the bus measures it; Retry-After is the
 * persister's flush interval (≥ 1 s). Closing (shutdown) refuses with 503.
 */
@Injectable()
export class BusBackpressure extends IngestBackpressure {
  constructor(
    private readonly bus: EventBus,
    private readonly config: AppConfig,
  ) {
    super();
  }

  admit(): void {
    const pressure = this.bus.pressure(this.config.eventPersister.queueMaxSize);
    if (!pressure) {
      return;
    }
    if (pressure.kind === 'closing') {
      throw new ServiceUnavailableError(pressure.message);
    }
    throw new TooManyRequestsError(
      pressure.message,
      Math.max(1, Math.ceil(this.config.eventPersister.flushInterval)),
    );
  }
}
