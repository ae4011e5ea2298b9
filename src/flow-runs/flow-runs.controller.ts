import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { uuidParam } from '../common/http/uuid-param';
import { OrchestrationResultResponse } from '../orchestration/dto/state.response';
import type { OrchestrationResult } from '../orchestration/orchestration.types';
import { FlowResponse, FlowRunResponse } from './dto/flow-run.response';
import { CreateFlowDto, CreateFlowRunDto, SetFlowRunStateDto } from './dto/flow-runs.dto';
import { FlowRunsService } from './flow-runs.service';

@ApiTags('Flows')
@Controller('flows')
export class FlowsController {
  constructor(private readonly flowRuns: FlowRunsService) {}

  @ApiCreatedResponse({ type: FlowResponse })
  @ApiOkResponse({ type: FlowResponse, description: 'A flow of that name existed' })
  @Post()
  async create(@Body() dto: CreateFlowDto, @Res({ passthrough: true }) res: Response): Promise<unknown> {
    const { flow, created } = await this.flowRuns.createFlow(dto);
    res.status(created ? 201 : 200);
    return flow;
  }
}

@ApiTags('Flow Runs')
@Controller('flow_runs')
export class FlowRunsController {
  constructor(private readonly flowRuns: FlowRunsService) {}

  @ApiCreatedResponse({ type: FlowRunResponse })
  @ApiOkResponse({ type: FlowRunResponse, description: 'The flow run already existed' })
  @Post()
  async create(@Body() dto: CreateFlowRunDto, @Res({ passthrough: true }) res: Response): Promise<unknown> {
    const { flowRun, created } = await this.flowRuns.createFlowRun(dto);
    res.status(created ? 201 : 200);
    return flowRun;
  }

  @ApiOkResponse({ type: FlowRunResponse })
  @Get(':id')
  read(@Param('id', uuidParam) id: string): Promise<unknown> {
    return this.flowRuns.readFlowRun(id);
  }

  @ApiCreatedResponse({ type: OrchestrationResultResponse })
  @Post(':id/set_state')
  @HttpCode(201)
  setState(
    @Param('id', uuidParam) id: string,
    @Body() dto: SetFlowRunStateDto,
  ): Promise<OrchestrationResult> {
    return this.flowRuns.setFlowRunState(id, dto);
  }

  @ApiNoContentResponse({ description: 'Deleted, with its task runs' })
  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id', uuidParam) id: string): Promise<void> {
    await this.flowRuns.deleteFlowRun(id);
  }
}
