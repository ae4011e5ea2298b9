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
import { EventPersister } from './services/event-persister.service';
import { EventRetentionService } from './services/event-retention.service';

/**
 * Events (docs/reference.md §2, §3.3–3.4, §5.4): the `EventBus` port bound to its adapter, ingestion, queries, the
 * sockets, the persister and the retention service. Other modules import it for the `EventBus` (e.g. the
 * task-run recorder subscribes with its own group).
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
    EventPersister,
    EventRetentionService,
  ],
  exports: [EventBus, EventsIngestService],
})
export class EventsModule {}
