import { Injectable, Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { LoopService } from '../../background/loop-service';
import { BackgroundService } from '../../background/managed-service';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AppConfig } from '../../config/app-config';
import { TaskRunsRepository } from '../../task-runs/task-runs.repository';

/** A folded table holds one row per state type (9 types and NULL); below this many rows a pass does nothing. */
export const FOLDED_ROWS = 16;

export interface CountsFoldRun {
  /** Delta rows removed and rows written in their place. */
  removed: number;
  added: number;
  /** Statements issued (each one short transaction of at most `batchSize` rows). */
  batches: number;
}

/**
 * Folds the maintained task-run counts (docs/performance.md, "Queries, second round"): the triggers on `task_run`
 * add a few `task_run_count_delta` rows per write statement; every `…_TASK_RUN_COUNTS_LOOP_SECONDS` this service
 * folds them, `…_BATCH_SIZE` rows per statement, into one row per state type, so `/task_runs/count` sums a
 * handful of rows. Each batch is one statement, hence atomic for readers; it may race writers and other folds
 * (another replica, or `/count` itself when it meets a long table) without changing any count.
 */
@BackgroundService({
  name: 'TaskRunCounts',
  settingsPrefix: 'PREFECT_SERVER_SERVICES_TASK_RUN_COUNTS',
  description: 'Folds the maintained task-run counts that /task_runs/count reads, in bounded batches.',
})
@Injectable()
export class TaskRunCountsService extends LoopService {
  protected readonly logger = new Logger(TaskRunCountsService.name);
  private readonly folded: Counter;
  lastRun?: CountsFoldRun;

  constructor(
    private readonly repository: TaskRunsRepository,
    private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    super();
    this.folded = metrics.counter(
      'prefect_task_run_count_deltas_folded_total',
      'Task-run count delta rows folded into per-state totals',
    );
  }

  protected loopSeconds(): number {
    return this.config.taskRunCounts.loopSeconds;
  }

  async runOnce(): Promise<void> {
    await this.fold();
  }

  /** Folds batch after batch until a batch finds the table folded (or the service is stopping). */
  async fold(): Promise<CountsFoldRun> {
    const batchSize = this.config.taskRunCounts.batchSize;
    const run: CountsFoldRun = { removed: 0, added: 0, batches: 0 };
    for (;;) {
      const { removed, added } = await this.repository.compactCountDeltas(batchSize, FOLDED_ROWS);
      run.batches += 1;
      run.removed += removed;
      run.added += added;
      if (removed > added) {
        this.folded.inc(removed - added);
      }
      // Fewer than a batch: the table was read to its end. No fewer rows than before: nothing left to fold.
      if (removed < batchSize || removed <= added || this.status === 'stopping') {
        break;
      }
    }
    this.lastRun = run;
    return run;
  }
}
