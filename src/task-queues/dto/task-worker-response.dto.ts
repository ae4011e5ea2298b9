/** `TaskWorkerResponse` (spec §1.7). */
export interface TaskWorkerResponseDto {
  identifier: string;
  task_keys: string[];
  /** Last seen. */
  timestamp: string;
}

/** One entry of `GET /admin/task_queues`. */
export interface TaskQueueStatsResponseDto {
  task_key: string;
  scheduled: number;
  retry: number;
  in_flight: number;
  oldest_age_seconds: number | null;
  max_scheduled_queue_size: number;
  max_retry_queue_size: number;
}
