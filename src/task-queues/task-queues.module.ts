import { Module } from '@nestjs/common';
import { PgTaskQueueStore } from './pg-task-queue.store';
import { newReplicaId, REPLICA_ID } from './replica-id';
import { TaskQueues } from './task-queue';
import { TaskQueueStore } from './task-queue.store';
import { TaskQueuesAdminController } from './task-queues-admin.controller';
import { TaskQueuesMetrics } from './task-queues.metrics';
import { TaskRunSubscriptionsGateway } from './task-run-subscriptions.gateway';
import { TaskRunSubscriptionsService } from './task-run-subscriptions.service';
import { TaskWorkersController } from './task-workers.controller';
import { TaskWorkersService } from './task-workers.service';

/**
 * Background-task delivery: the durable queues (PostgreSQL), the task-worker websocket, the task-worker
 * tracker and the admin view. Exports the `TaskQueueStore` port (TaskRunsService enqueues through it) and
 * the seed-shaped `TaskQueues` facade.
 */
@Module({
  controllers: [TaskWorkersController, TaskQueuesAdminController],
  providers: [
    { provide: REPLICA_ID, useFactory: newReplicaId },
    TaskQueuesMetrics,
    { provide: TaskQueueStore, useClass: PgTaskQueueStore },
    TaskQueues,
    TaskWorkersService,
    TaskRunSubscriptionsService,
    TaskRunSubscriptionsGateway,
  ],
  exports: [TaskQueueStore, TaskQueues],
})
export class TaskQueuesModule {}
