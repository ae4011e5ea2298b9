import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  ConcurrencyLimitV2Response,
  fromV2Create,
  fromV2Update,
  toConcurrencyLimitV2Response,
} from './concurrency-limits.mapper';
import { ConcurrencyLimitsV2Service } from './concurrency-limits-v2.service';
import { ConcurrencyLimitV2CreateDto } from './dto/concurrency-limit-v2-create.dto';
import { ConcurrencyLimitV2UpdateDto } from './dto/concurrency-limit-v2-update.dto';
import { LimitOffsetDto } from './dto/limit-offset.dto';

/** Global concurrency limits (v2 API); tag limits are the ones named `tag:<tag>`. */
@ApiTags('Concurrency Limits V2')
@Controller('v2/concurrency_limits')
export class ConcurrencyLimitsV2Controller {
  constructor(private readonly limits: ConcurrencyLimitsV2Service) {}

  @Post()
  @HttpCode(201)
  async create(@Body() dto: ConcurrencyLimitV2CreateDto): Promise<ConcurrencyLimitV2Response> {
    return toConcurrencyLimitV2Response(await this.limits.create(fromV2Create(dto)));
  }

  @Post('filter')
  @HttpCode(200)
  async filter(@Body() dto: LimitOffsetDto): Promise<ConcurrencyLimitV2Response[]> {
    return (await this.limits.list(dto)).map(toConcurrencyLimitV2Response);
  }

  @Get(':idOrName')
  async read(@Param('idOrName') idOrName: string): Promise<ConcurrencyLimitV2Response> {
    return toConcurrencyLimitV2Response(await this.limits.read(idOrName));
  }

  @Patch(':idOrName')
  @HttpCode(204)
  async update(@Param('idOrName') idOrName: string, @Body() dto: ConcurrencyLimitV2UpdateDto): Promise<void> {
    await this.limits.update(idOrName, fromV2Update(dto));
  }

  @Delete(':idOrName')
  @HttpCode(204)
  async delete(@Param('idOrName') idOrName: string): Promise<void> {
    await this.limits.delete(idOrName);
  }
}
