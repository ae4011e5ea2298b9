import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { uuidParam } from '../common/http/uuid-param';
import type { OrchestrationResult } from '../orchestration/orchestration.types';
import { CreateFlowDto, CreateFlowRunDto, SetFlowRunStateDto } from './dto/flow-runs.dto';
import { FlowRunsService } from './flow-runs.service';

@Controller('flows')
export class FlowsController {
  constructor(private readonly flowRuns: FlowRunsService) {}

  @Post()
  async create(@Body() dto: CreateFlowDto, @Res({ passthrough: true }) res: Response): Promise<unknown> {
    const { flow, created } = await this.flowRuns.createFlow(dto);
    res.status(created ? 201 : 200);
    return flow;
  }
}

@Controller('flow_runs')
export class FlowRunsController {
  constructor(private readonly flowRuns: FlowRunsService) {}

  @Post()
  async create(@Body() dto: CreateFlowRunDto, @Res({ passthrough: true }) res: Response): Promise<unknown> {
    const { flowRun, created } = await this.flowRuns.createFlowRun(dto);
    res.status(created ? 201 : 200);
    return flowRun;
  }

  @Get(':id')
  read(@Param('id', uuidParam) id: string): Promise<unknown> {
    return this.flowRuns.readFlowRun(id);
  }

  @Post(':id/set_state')
  @HttpCode(201)
  setState(
    @Param('id', uuidParam) id: string,
    @Body() dto: SetFlowRunStateDto,
  ): Promise<OrchestrationResult> {
    return this.flowRuns.setFlowRunState(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id', uuidParam) id: string): Promise<void> {
    await this.flowRuns.deleteFlowRun(id);
  }
}
