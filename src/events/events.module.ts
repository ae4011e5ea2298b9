import { Module } from '@nestjs/common';
import { EventsInGateway } from './events-in.gateway';
import { EventsOutGateway } from './events-out.gateway';
import { EventsStreamService } from './events-stream.service';
import { EventBus } from './bus/event-bus';
import { eventBusProvider } from './bus/event-bus.provider';
import { EventsIngestService } from './events-ingest.service';
import { EventsQueryService } from './events-query.service';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
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
