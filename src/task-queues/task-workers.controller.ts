import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ReadTaskWorkersDto } from './dto/task-worker-filter.dto';
import { TaskWorkerResponseDto } from './dto/task-worker-response.dto';
import { toTaskWorkerResponse } from './task-queues.mapper';
import { TaskWorkersService } from './task-workers.service';

@ApiTags('Task Workers')
@Controller('task_workers')
export class TaskWorkersController {
  constructor(private readonly workers: TaskWorkersService) {}

  /** Workers connected to any replica; with `task_worker_filter.task_keys`, those serving any of them. */
  @ApiBody({ type: ReadTaskWorkersDto, required: false })
  @ApiOkResponse({ type: [TaskWorkerResponseDto] })
  @Post('filter')
  @HttpCode(200)
  async filter(@Body() body: ReadTaskWorkersDto): Promise<TaskWorkerResponseDto[]> {
    const workers = await this.workers.list(body.task_worker_filter?.task_keys);
    return workers.map(toTaskWorkerResponse);
  }
}
