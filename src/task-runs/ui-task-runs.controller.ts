import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { uuidParam } from '../common/http/uuid-param';
import { CountTaskRunsDto, DashboardCountsDto } from './dto/task-runs.dto';
import { TaskRunQueriesService } from './task-run-queries.service';
import type { TaskRunJson } from './task-runs.service';

/** `/api/ui/task_runs` (spec §2 UI routes). */
@Controller('ui/task_runs')
export class UiTaskRunsController {
  constructor(private readonly queries: TaskRunQueriesService) {}

  @Post('dashboard/counts')
  @HttpCode(200)
  dashboardCounts(@Body() dto: DashboardCountsDto): Promise<{ completed: number; failed: number }[]> {
    return this.queries.dashboardCounts(dto);
  }

  @Post('count')
  @HttpCode(200)
  count(@Body() dto: CountTaskRunsDto): Promise<Record<string, number>> {
    return this.queries.countByState(dto);
  }

  @Get(':id')
  read(@Param('id', uuidParam) id: string): Promise<TaskRunJson> {
    return this.queries.readUiTaskRun(id);
  }
}
