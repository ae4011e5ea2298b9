import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ConcurrencyLimitsV2Service } from './concurrency-limits-v2.service';
import {
  ConcurrencyLimitV2Response,
  fromV2Create,
  fromV2Update,
  toConcurrencyLimitV2Response,
} from './concurrency-limits.mapper';
import { ConcurrencyLimitV2CreateDto } from './dto/concurrency-limit-v2-create.dto';
import { ConcurrencyLimitV2UpdateDto } from './dto/concurrency-limit-v2-update.dto';
import { ConcurrencyLimitV2Model } from './dto/concurrency-limit.response';
import { LimitOffsetDto } from './dto/limit-offset.dto';

/** Global concurrency limits (v2 API); tag limits are the ones named `tag:<tag>`. */
@ApiTags('Concurrency Limits V2')
@Controller('v2/concurrency_limits')
export class ConcurrencyLimitsV2Controller {
  constructor(private readonly limits: ConcurrencyLimitsV2Service) {}

  @ApiCreatedResponse({ type: ConcurrencyLimitV2Model })
  @Post()
  @HttpCode(201)
  async create(@Body() dto: ConcurrencyLimitV2CreateDto): Promise<ConcurrencyLimitV2Response> {
    return toConcurrencyLimitV2Response(await this.limits.create(fromV2Create(dto)));
  }

  @ApiOkResponse({ type: [ConcurrencyLimitV2Model] })
  @Post('filter')
  @HttpCode(200)
  async filter(@Body() dto: LimitOffsetDto): Promise<ConcurrencyLimitV2Response[]> {
    return (await this.limits.list(dto)).map(toConcurrencyLimitV2Response);
  }

  @ApiOkResponse({ type: ConcurrencyLimitV2Model })
  @Get(':idOrName')
  async read(@Param('idOrName') idOrName: string): Promise<ConcurrencyLimitV2Response> {
    return toConcurrencyLimitV2Response(await this.limits.read(idOrName));
  }

  @ApiNoContentResponse({ description: 'Updated' })
  @Patch(':idOrName')
  @HttpCode(204)
  async update(@Param('idOrName') idOrName: string, @Body() dto: ConcurrencyLimitV2UpdateDto): Promise<void> {
    await this.limits.update(idOrName, fromV2Update(dto));
  }

  @ApiNoContentResponse({ description: 'Deleted' })
  @Delete(':idOrName')
  @HttpCode(204)
  async delete(@Param('idOrName') idOrName: string): Promise<void> {
    await this.limits.delete(idOrName);
  }
}
