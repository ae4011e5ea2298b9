import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { EventsIngestService } from './events-ingest.service';
import { EventCount, EventPage, EventsQueryService } from './events-query.service';

function baseUrl(req: Request): string {
  return `${req.protocol}://${req.get('host')}/`;
}

/** Event routes of spec §2. Bodies are validated by the services' hand parsers (spec §6 / EventFilter). */
@ApiTags('Events')
@Controller('events')
export class EventsController {
  constructor(
    private readonly ingest: EventsIngestService,
    private readonly query: EventsQueryService,
  ) {}

  /** Accepts a list of events: 204; `received` is stamped by the server. */
  @Post()
  @HttpCode(204)
  async create(@Body() body: unknown): Promise<void> {
    await this.ingest.ingest(body);
  }

  @Post('filter')
  @HttpCode(200)
  async filter(@Body() body: unknown, @Req() req: Request): Promise<EventPage> {
    return this.query.filter(body, baseUrl(req));
  }

  @Get('filter/next')
  async next(@Query('page-token') token: string | undefined, @Req() req: Request): Promise<EventPage> {
    return this.query.followPage(token, baseUrl(req));
  }

  @Post('count-by/:countable')
  @HttpCode(200)
  async countBy(@Param('countable') countable: string, @Body() body: unknown): Promise<EventCount[]> {
    return this.query.countBy(countable, body);
  }
}
