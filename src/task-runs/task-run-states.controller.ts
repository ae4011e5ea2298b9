import { Controller, Get, Param, Query } from '@nestjs/common';
import { uuidParam } from '../common/http/uuid-param';
import type { OrchestrationState } from '../orchestration/orchestration.types';
import { ReadTaskRunStatesQueryDto } from './dto/task-run-states.dto';
import { TaskRunsService } from './task-runs.service';

/** `/api/task_run_states`. */
@Controller('task_run_states')
export class TaskRunStatesController {
  constructor(private readonly taskRuns: TaskRunsService) {}

  @Get()
  list(@Query() query: ReadTaskRunStatesQueryDto): Promise<OrchestrationState[]> {
    return this.taskRuns.readStates(query.task_run_id);
  }

  @Get(':id')
  read(@Param('id', uuidParam) id: string): Promise<OrchestrationState> {
    return this.taskRuns.readState(id);
  }
}
