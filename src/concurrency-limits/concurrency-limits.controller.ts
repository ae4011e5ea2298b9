import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ErrorDetailResponse } from '../common/http/error.responses';
import { uuidParam } from '../common/http/uuid-param';
import { ConcurrencyLimitResponse, toConcurrencyLimitResponse } from './concurrency-limits.mapper';
import { ConcurrencyLimitsService } from './concurrency-limits.service';
import { ConcurrencyLimitCreateDto } from './dto/concurrency-limit-create.dto';
import { ConcurrencyLimitResetDto } from './dto/concurrency-limit-reset.dto';
import { ConcurrencyLimitSlotsDto } from './dto/concurrency-limit-slots.dto';
import { ConcurrencyLimitModel, MinimalConcurrencyLimitModel } from './dto/concurrency-limit.response';
import { LimitOffsetDto } from './dto/limit-offset.dto';
import { MinimalLimit } from './slot-plan';

/** Tag concurrency limits (v1 API). Deletes and resets answer 200 `null`, as FastAPI does for `-> None`. */
@ApiTags('Concurrency Limits')
@Controller('concurrency_limits')
export class ConcurrencyLimitsController {
  constructor(private readonly limits: ConcurrencyLimitsService) {}

  @ApiCreatedResponse({ type: ConcurrencyLimitModel })
  @ApiOkResponse({ type: ConcurrencyLimitModel, description: 'The tag had a limit; it was updated' })
  @Post()
  async create(
    @Body() dto: ConcurrencyLimitCreateDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ConcurrencyLimitResponse> {
    const { limit, created } = await this.limits.create(dto.tag, dto.concurrency_limit);
    res.status(created ? 201 : 200);
    return toConcurrencyLimitResponse(limit);
  }

  @ApiOkResponse({ type: [ConcurrencyLimitModel] })
  @Post('filter')
  @HttpCode(200)
  async filter(@Body() dto: LimitOffsetDto): Promise<ConcurrencyLimitResponse[]> {
    return (await this.limits.list(dto)).map(toConcurrencyLimitResponse);
  }

  /** 200 with the limits concerned, or 423 `{detail}` (with Retry-After when a limit is full). */
  @ApiOkResponse({ type: [MinimalConcurrencyLimitModel] })
  @ApiResponse({
    status: 423,
    type: ErrorDetailResponse,
    description: 'A limit is full (Retry-After) or zero',
  })
  @Post('increment')
  async increment(@Body() dto: ConcurrencyLimitSlotsDto, @Res() res: Response): Promise<void> {
    const result = await this.limits.increment(dto.names, dto.task_run_id);
    if (result.status === 'ACQUIRED') {
      res.status(200).json(result.limits);
      return;
    }
    if (result.retryAfterSeconds !== undefined) {
      res.setHeader('Retry-After', String(result.retryAfterSeconds));
    }
    res.status(423).json({ detail: result.detail });
  }

  @ApiOkResponse({ type: [MinimalConcurrencyLimitModel] })
  @Post('decrement')
  @HttpCode(200)
  async decrement(@Body() dto: ConcurrencyLimitSlotsDto): Promise<MinimalLimit[]> {
    return this.limits.decrement(dto.names, dto.task_run_id);
  }

  @ApiOkResponse({ type: ConcurrencyLimitModel })
  @Get('tag/:tag')
  async readByTag(@Param('tag') tag: string): Promise<ConcurrencyLimitResponse> {
    return toConcurrencyLimitResponse(await this.limits.readByTag(tag));
  }

  @ApiOkResponse({ schema: { type: 'object', nullable: true, enum: [null] }, description: '`null`' })
  @Post('tag/:tag/reset')
  async reset(
    @Param('tag') tag: string,
    @Body() dto: ConcurrencyLimitResetDto,
    @Res() res: Response,
  ): Promise<void> {
    await this.limits.resetByTag(tag, dto.slot_override);
    res.status(200).json(null);
  }

  @ApiOkResponse({ schema: { type: 'object', nullable: true, enum: [null] }, description: '`null`' })
  @Delete('tag/:tag')
  async deleteByTag(@Param('tag') tag: string, @Res() res: Response): Promise<void> {
    await this.limits.deleteByTag(tag);
    res.status(200).json(null);
  }

  @ApiOkResponse({ type: ConcurrencyLimitModel })
  @Get(':id')
  async read(@Param('id', uuidParam) id: string): Promise<ConcurrencyLimitResponse> {
    return toConcurrencyLimitResponse(await this.limits.readById(id));
  }

  @ApiOkResponse({ schema: { type: 'object', nullable: true, enum: [null] }, description: '`null`' })
  @Delete(':id')
  async delete(@Param('id', uuidParam) id: string, @Res() res: Response): Promise<void> {
    await this.limits.deleteById(id);
    res.status(200).json(null);
  }
}
