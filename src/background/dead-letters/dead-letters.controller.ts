import { Controller, Get, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { uuidParam } from '../../common/http/uuid-param';
import { DeadLetterEntity } from './dead-letter.entity';
import { DeadLettersService } from './dead-letters.service';
import { DeadLetterQueryDto } from './dto/dead-letter-query.dto';
import { DeadLetterResponse } from './dto/dead-letter.response';

function toResponse(letter: DeadLetterEntity): Record<string, unknown> {
  return {
    id: letter.id,
    created: letter.created,
    updated: letter.updated,
    source: letter.source,
    reason: letter.reason,
    attempts: letter.attempts,
    payload: letter.payload,
    replayed_at: letter.replayedAt,
    replay_requested_at: letter.replayRequestedAt,
  };
}

@ApiTags('Admin')
@Controller('admin/dead_letters')
export class DeadLettersController {
  constructor(private readonly deadLetters: DeadLettersService) {}

  @ApiOkResponse({ type: [DeadLetterResponse] })
  @Get()
  async list(@Query() query: DeadLetterQueryDto): Promise<Record<string, unknown>[]> {
    const letters = await this.deadLetters.list({
      source: query.source,
      includeReplayed: query.include_replayed ?? false,
      limit: query.limit ?? 200,
      offset: query.offset ?? 0,
    });
    return letters.map(toResponse);
  }

  @ApiOkResponse({ type: DeadLetterResponse })
  @Get(':id')
  async get(@Param('id', uuidParam) id: string): Promise<Record<string, unknown>> {
    return toResponse(await this.deadLetters.get(id));
  }

  /** 200 once replayed here; 202 when the replay was handed to the process that runs the letter's service. */
  @ApiOkResponse({ type: DeadLetterResponse, description: 'Replayed here' })
  @ApiAcceptedResponse({
    type: DeadLetterResponse,
    description: 'Handed to the process that runs its service',
  })
  @Post(':id/replay')
  async replay(
    @Param('id', uuidParam) id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<Record<string, unknown>> {
    const letter = await this.deadLetters.replay(id);
    res.status(letter.replayedAt ? HttpStatus.OK : HttpStatus.ACCEPTED);
    return toResponse(letter);
  }
}
