import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../common/auth/public.decorator';
import { ReadinessModel } from './dto/readiness.response';
import { HealthService, Readiness } from './health.service';

@ApiTags('Root')
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** Liveness: 200 `true` while the process runs. */
  @Public()
  @ApiOkResponse({ schema: { type: 'boolean', enum: [true] }, description: '`true` while the process runs' })
  @Get('health')
  live(@Res() res: Response): void {
    res.json(true);
  }

  /** Readiness: 200 when the database answers and every enabled service runs, else 503 with what is down. */
  @Public()
  @ApiOkResponse({ type: ReadinessModel, description: 'Ready' })
  @ApiServiceUnavailableResponse({ type: ReadinessModel, description: 'Not ready: `down` says what' })
  @Get('ready')
  async ready(@Res({ passthrough: true }) res: Response): Promise<Readiness> {
    const readiness = await this.health.readiness();
    res.status(readiness.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return readiness;
  }
}
