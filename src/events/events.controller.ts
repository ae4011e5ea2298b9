import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { rawJsonArray, rawJsonBody } from '../common/http/json-depth.middleware';
import {
  CountEventsBody,
  EventCountModel,
  EventModel,
  EventPageModel,
  ReadEventsBody,
} from './dto/event.schemas';
import { EventsIngestService } from './events-ingest.service';
import { EventCount, EventPage, EventsQueryService } from './events-query.service';

function baseUrl(req: Request): string {
  return `${req.protocol}://${req.get('host')}/`;
}

/** Event routes of docs/reference.md §2. Bodies are validated by the services' hand parsers (docs/reference.md §6 / EventFilter). */
@ApiTags('Events')
@Controller('events')
export class EventsController {
  constructor(
    private readonly ingest: EventsIngestService,
    private readonly query: EventsQueryService,
  ) {}

  /** Accepts a list of events: 204; `received` is stamped by the server. */
  @ApiBody({ type: [EventModel] })
  @ApiNoContentResponse({ description: 'Accepted and durable' })
  @ApiResponse({ status: 429, description: 'The buffer is full; retry after Retry-After seconds' })
  @Post()
  @HttpCode(204)
  create(@Body() body: unknown, @Req() req: Request): Promise<void> {
    const committed = this.ingest.accept(body, rawJsonBody(req), rawJsonArray(req));
    // Validated and encoded: the parsed body is not needed while the commit is awaited (docs/events.md,
    // "Durable ingest, third round"). A refused body (thrown above) stays for the 422's `request_body`.
    req.body = undefined;
    return committed;
  }

  @ApiBody({ type: ReadEventsBody, required: false })
  @ApiOkResponse({ type: EventPageModel })
  @Post('filter')
  @HttpCode(200)
  async filter(@Body() body: unknown, @Req() req: Request): Promise<EventPage> {
    return this.query.filter(body, baseUrl(req));
  }

  @ApiQuery({ name: 'page-token', required: true, type: 'string' })
  @ApiOkResponse({ type: EventPageModel })
  @ApiResponse({ status: 403, description: 'The page token is missing or invalid' })
  @Get('filter/next')
  async next(@Query('page-token') token: string | undefined, @Req() req: Request): Promise<EventPage> {
    return this.query.followPage(token, baseUrl(req));
  }

  @ApiParam({ name: 'countable', enum: ['day', 'time', 'event', 'resource'] })
  @ApiBody({ type: CountEventsBody })
  @ApiOkResponse({ type: [EventCountModel] })
  @Post('count-by/:countable')
  @HttpCode(200)
  async countBy(@Param('countable') countable: string, @Body() body: unknown): Promise<EventCount[]> {
    return this.query.countBy(countable, body);
  }
}
