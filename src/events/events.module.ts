import { Module } from '@nestjs/common';
import { EventBus } from './bus/event-bus';
import { eventBusProvider } from './bus/event-bus.provider';
import { EventsInGateway } from './events-in.gateway';
import { EventsIngestService } from './events-ingest.service';
import { EventsOutGateway } from './events-out.gateway';
import { EventsQueryService } from './events-query.service';
import { EventsStreamService } from './events-stream.service';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { BusBackpressure, IngestBackpressure } from './ingest-backpressure';

/**
 * Events (docs/reference.md §2, §3.3–3.4, §5.4): the `EventBus` port bound to its adapter, ingestion, queries and
 * the sockets. The background services that consume the bus (the persister, retention, the task-run recorder)
 * live in src/services/ and import this module for the `EventBus` and `EventsRepository`.
 */
@Module({
  controllers: [EventsController],
  providers: [
    eventBusProvider,
    EventsRepository,
    EventsIngestService,
    { provide: IngestBackpressure, useClass: BusBackpressure },
    EventsQueryService,
    EventsStreamService,
    EventsInGateway,
    EventsOutGateway,
  ],
  exports: [EventBus, EventsIngestService, EventsRepository],
})
export class EventsModule {}
