import type { TaskQueueStatsResponseDto, TaskWorkerResponseDto } from './dto/task-worker-response.dto';
import type { QueueLimits, TaskQueueStats } from './task-queue.store';
import type { TaskWorker } from './task-workers.service';

export function toTaskWorkerResponse(worker: TaskWorker): TaskWorkerResponseDto {
  return { identifier: worker.identifier, task_keys: worker.taskKeys, timestamp: worker.timestamp };
}

export function toTaskQueueStatsResponse(
  stats: TaskQueueStats,
  limits: QueueLimits,
): TaskQueueStatsResponseDto {
  return {
    task_key: stats.taskKey,
    scheduled: stats.scheduled,
    retry: stats.retry,
    in_flight: stats.inFlight,
    oldest_age_seconds: stats.oldestAgeSeconds,
    max_scheduled_queue_size: limits.scheduled,
    max_retry_queue_size: limits.retry,
  };
}
