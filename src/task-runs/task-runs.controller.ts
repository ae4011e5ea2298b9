import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { uuidParam } from '../common/http/uuid-param';
import { OrchestrationResultResponse } from '../orchestration/dto/state.response';
import type { OrchestrationResult } from '../orchestration/orchestration.types';
import { HistoryResponse, TaskRunPaginationResponse, TaskRunResponse } from './dto/task-run.response';
import {
  CountTaskRunsDto,
  CreateTaskRunDto,
  FilterTaskRunsDto,
  PaginateTaskRunsDto,
  SetTaskRunStateDto,
  TaskRunHistoryDto,
  UpdateTaskRunDto,
} from './dto/task-runs.dto';
import { TaskRunQueriesService } from './task-run-queries.service';
import { TaskRunMetrics } from './task-run.metrics';
import { TaskRunJson, TaskRunsService } from './task-runs.service';

/** `/api/task_runs` (docs/reference.md §2). */
@ApiTags('Task Runs')
@Controller('task_runs')
export class TaskRunsController {
  constructor(
    private readonly taskRuns: TaskRunsService,
    private readonly queries: TaskRunQueriesService,
    private readonly metrics: TaskRunMetrics,
  ) {}

  @ApiCreatedResponse({ type: TaskRunResponse, description: 'Created' })
  @ApiOkResponse({ type: TaskRunResponse, description: 'The run already existed (same id or natural key)' })
  @Post()
  async create(
    @Body() dto: CreateTaskRunDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TaskRunJson> {
    const { taskRun, created } = await this.taskRuns.createTaskRun(dto);
    res.status(created ? 201 : 200);
    if (created) {
      this.metrics.runCreated(taskRun.state?.type);
    }
    return taskRun;
  }

  @ApiOkResponse({ type: [TaskRunResponse] })
  @Post('filter')
  @HttpCode(200)
  filter(@Body() dto: FilterTaskRunsDto): Promise<TaskRunJson[]> {
    return this.queries.filterTaskRuns(dto);
  }

  @ApiOkResponse({ schema: { type: 'integer' }, description: 'A bare integer' })
  @Post('count')
  @HttpCode(200)
  @Header('Content-Type', 'application/json') // a bare integer is still JSON
  count(@Body() dto: CountTaskRunsDto): Promise<number> {
    return this.queries.countTaskRuns(dto);
  }

  @ApiOkResponse({ type: TaskRunPaginationResponse })
  @Post('paginate')
  @HttpCode(200)
  paginate(@Body() dto: PaginateTaskRunsDto): Promise<Record<string, unknown>> {
    return this.queries.paginateTaskRuns(dto);
  }

  @ApiOkResponse({ type: [HistoryResponse] })
  @Post('history')
  @HttpCode(200)
  history(@Body() dto: TaskRunHistoryDto): Promise<Record<string, unknown>[]> {
    return this.queries.history(dto);
  }

  @ApiOkResponse({ type: TaskRunResponse })
  @Get(':id')
  read(@Param('id', uuidParam) id: string): Promise<TaskRunJson> {
    return this.taskRuns.readTaskRun(id);
  }

  @ApiNoContentResponse({ description: 'Updated' })
  @Patch(':id')
  @HttpCode(204)
  async update(@Param('id', uuidParam) id: string, @Body() dto: UpdateTaskRunDto): Promise<void> {
    await this.taskRuns.updateTaskRun(id, dto);
  }

  @ApiNoContentResponse({ description: 'Deleted, with its states' })
  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id', uuidParam) id: string): Promise<void> {
    await this.taskRuns.deleteTaskRun(id);
  }

  @ApiCreatedResponse({ type: OrchestrationResultResponse, description: 'A new state was written' })
  @ApiOkResponse({
    type: OrchestrationResultResponse,
    description: 'WAIT, ABORT or a reject to the current state',
  })
  @Post(':id/set_state')
  async setState(
    @Param('id', uuidParam) id: string,
    @Body() dto: SetTaskRunStateDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OrchestrationResult> {
    const { result, created } = await this.taskRuns.setTaskRunState(id, dto);
    res.status(created ? 201 : 200);
    this.metrics.orchestrated(result, created);
    return result;
  }
}
