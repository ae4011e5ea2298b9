import { Controller, Get, Param, PipeTransform, Query } from '@nestjs/common';
import { ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import { isUUID } from 'class-validator';
import { RequestValidationError } from '../common/errors/request-validation.error';
import { uuidParam } from '../common/http/uuid-param';
import { StateResponse } from '../orchestration/dto/state.response';
import type { OrchestrationState } from '../orchestration/orchestration.types';
import { TaskRunQueriesService } from './task-run-queries.service';

/** The required `task_run_id` query parameter: a UUID, else 422 at `["query", "task_run_id"]`. */
const taskRunIdQuery: PipeTransform<unknown, string> = {
  transform(value: unknown): string {
    if (value === undefined) {
      throw new RequestValidationError([
        { loc: ['query', 'task_run_id'], msg: 'Field required', type: 'missing' },
      ]);
    }
    if (typeof value !== 'string' || !isUUID(value)) {
      throw new RequestValidationError([
        {
          loc: ['query', 'task_run_id'],
          msg: 'Input should be a valid UUID',
          type: 'uuid_parsing',
          input: value,
        },
      ]);
    }
    return value;
  },
};

/** `/api/task_run_states`. */
@ApiTags('Task Run States')
@Controller('task_run_states')
export class TaskRunStatesController {
  constructor(private readonly queries: TaskRunQueriesService) {}

  @ApiQuery({ name: 'task_run_id', required: true, schema: { type: 'string', format: 'uuid' } })
  @ApiOkResponse({ type: [StateResponse], description: 'Oldest first' })
  @Get()
  list(@Query('task_run_id', taskRunIdQuery) taskRunId: string): Promise<OrchestrationState[]> {
    return this.queries.readStates(taskRunId);
  }

  @ApiOkResponse({ type: StateResponse })
  @Get(':id')
  read(@Param('id', uuidParam) id: string): Promise<OrchestrationState> {
    return this.queries.readState(id);
  }
}
