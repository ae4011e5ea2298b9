import { ApiProperty, ApiSchema } from '@nestjs/swagger';

/** `TaskWorkerResponse` (docs/reference.md §1.7). */
@ApiSchema({ name: 'TaskWorkerResponse' })
export class TaskWorkerResponseDto {
  @ApiProperty({ type: 'string' }) identifier!: string;
  @ApiProperty({ type: 'array', items: { type: 'string' } }) task_keys!: string[];
  /** Last seen. */
  @ApiProperty({ type: 'string', format: 'date-time', description: 'Last seen.' }) timestamp!: string;
}

/** One entry of `GET /admin/task_queues`. */
@ApiSchema({ name: 'TaskQueueStats' })
export class TaskQueueStatsResponseDto {
  @ApiProperty({ type: 'string' }) task_key!: string;
  @ApiProperty({ type: 'integer' }) scheduled!: number;
  @ApiProperty({ type: 'integer' }) retry!: number;
  @ApiProperty({ type: 'integer' }) in_flight!: number;
  @ApiProperty({ type: 'number', nullable: true }) oldest_age_seconds!: number | null;
  @ApiProperty({ type: 'integer' }) max_scheduled_queue_size!: number;
  @ApiProperty({ type: 'integer' }) max_retry_queue_size!: number;
}
