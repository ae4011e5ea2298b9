import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { TaskQueueStatsResponseDto } from './dto/task-worker-response.dto';
import { TaskQueueStore } from './task-queue.store';
import { toTaskQueueStatsResponse } from './task-queues.mapper';

@ApiTags('Admin')
@Controller('admin/task_queues')
export class TaskQueuesAdminController {
  constructor(private readonly store: TaskQueueStore) {}

  /** Per task key (database-wide): scheduled and retry depth, in-flight deliveries, oldest age, bounds. */
  @ApiOkResponse({ type: [TaskQueueStatsResponseDto] })
  @Get()
  async list(): Promise<TaskQueueStatsResponseDto[]> {
    const stats = await this.store.stats();
    return stats.map((s) => toTaskQueueStatsResponse(s, this.store.limitsFor(s.taskKey)));
  }
}
