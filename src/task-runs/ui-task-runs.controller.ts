import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { uuidParam } from '../common/http/uuid-param';
import { CountByState, TaskRunCount, UiTaskRunResponse } from './dto/task-run.response';
import { CountTaskRunsDto, DashboardCountsDto } from './dto/task-runs.dto';
import { TaskRunQueriesService } from './task-run-queries.service';
import type { TaskRunJson } from './task-runs.service';

/** `/api/ui/task_runs` (docs/reference.md §2 UI routes). */
@ApiTags('Task Runs', 'UI')
@Controller('ui/task_runs')
export class UiTaskRunsController {
  constructor(private readonly queries: TaskRunQueriesService) {}

  @ApiOkResponse({ type: [TaskRunCount], description: "20 buckets over the filter's time range" })
  @Post('dashboard/counts')
  @HttpCode(200)
  dashboardCounts(@Body() dto: DashboardCountsDto): Promise<TaskRunCount[]> {
    return this.queries.dashboardCounts(dto);
  }

  @ApiOkResponse({ type: CountByState })
  @Post('count')
  @HttpCode(200)
  count(@Body() dto: CountTaskRunsDto): Promise<CountByState> {
    return this.queries.countByState(dto);
  }

  @ApiOkResponse({ type: UiTaskRunResponse })
  @Get(':id')
  read(@Param('id', uuidParam) id: string): Promise<TaskRunJson> {
    return this.queries.readUiTaskRun(id);
  }
}
