import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { EventsIngestService } from './events-ingest.service';

@ApiTags('Events')
@Controller('events')
export class EventsController {
  constructor(private readonly ingest: EventsIngestService) {}

  /** Accepts a list of events (spec §2): 204; `received` is stamped by the server. */
  @Post()
  @HttpCode(204)
  async create(@Body() body: unknown): Promise<void> {
    await this.ingest.ingest(body);
  }
}
