import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';
import type { ReturnReason, TaskQueueKind, TaskQueueStats } from './task-queue.store';

/** The task-queue metrics (labels: task keys, queue kinds, reasons; never run ids). */
@Injectable()
export class TaskQueuesMetrics {
  readonly enqueued: Counter<'task_key' | 'queue'>;
  readonly refused: Counter<'task_key' | 'queue'>;
  readonly deliveries: Counter<'task_key'>;
  readonly redeliveries: Counter<'task_key'>;
  readonly acks: Counter<'task_key'>;
  readonly returned: Counter<'task_key' | 'reason'>;
  readonly restored: Counter;
  readonly waitSeconds: Histogram<'task_key'>;
  readonly sockets: Gauge;
  private depth: Gauge<'task_key' | 'queue'>;
  private inFlight: Gauge<'task_key'>;
  private collector?: () => Promise<TaskQueueStats[]>;
  private pending?: { at: number; stats: Promise<TaskQueueStats[]> };

  constructor(metrics: MetricsService) {
    this.enqueued = metrics.counter('prefect_task_queue_enqueued_total', 'Runs put on a task queue.', [
      'task_key',
      'queue',
    ]);
    this.refused = metrics.counter(
      'prefect_task_queue_refused_total',
      'Enqueues refused (429) because the key queue was at its bound.',
      ['task_key', 'queue'],
    );
    this.deliveries = metrics.counter('prefect_task_queue_deliveries_total', 'Runs sent to a task worker.', [
      'task_key',
    ]);
    this.redeliveries = metrics.counter(
      'prefect_task_queue_redeliveries_total',
      'Deliveries of a run that had been delivered before without ack.',
      ['task_key'],
    );
    this.acks = metrics.counter(
      'prefect_task_queue_acks_total',
      'Deliveries acked (or quit) by a task worker.',
      ['task_key'],
    );
    this.returned = metrics.counter(
      'prefect_task_queue_returned_total',
      'Deliveries put back on the retry queue, by reason.',
      ['task_key', 'reason'],
    );
    this.restored = metrics.counter(
      'prefect_task_queue_restored_total',
      'Deferred SCHEDULED runs restored into the queues at start-up.',
    );
    this.waitSeconds = metrics.histogram(
      'prefect_task_queue_wait_seconds',
      'Time from enqueue to delivery.',
      ['task_key'],
      [0.001, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5, 30, 300],
    );
    this.sockets = metrics.gauge(
      'prefect_task_worker_sockets',
      'Task-worker websockets open on this replica.',
    );
    this.depth = metrics.gauge(
      'prefect_task_queue_depth',
      'Runs waiting per task key and queue (database-wide).',
      ['task_key', 'queue'],
      async (gauge) => {
        gauge.reset();
        for (const s of await this.freshStats()) {
          gauge.set({ task_key: s.taskKey, queue: 'scheduled' satisfies TaskQueueKind }, s.scheduled);
          gauge.set({ task_key: s.taskKey, queue: 'retry' satisfies TaskQueueKind }, s.retry);
        }
      },
    );
    this.inFlight = metrics.gauge(
      'prefect_task_queue_in_flight',
      'Runs delivered and not yet acked (database-wide).',
      ['task_key'],
      async (gauge) => {
        gauge.reset();
        for (const s of await this.freshStats()) {
          gauge.set({ task_key: s.taskKey }, s.inFlight);
        }
      },
    );
  }

  /** The store registers how to read per-key stats; both gauges share one query per scrape. */
  collectWith(collector: () => Promise<TaskQueueStats[]>): void {
    this.collector = collector;
  }

  private freshStats(): Promise<TaskQueueStats[]> {
    if (!this.collector) {
      return Promise.resolve([]);
    }
    const now = Date.now();
    if (!this.pending || now - this.pending.at > 250) {
      this.pending = { at: now, stats: this.collector().catch(() => []) };
    }
    return this.pending.stats;
  }

  returnedFor(taskKey: string, reason: ReturnReason): void {
    this.returned.inc({ task_key: taskKey, reason });
  }
}
