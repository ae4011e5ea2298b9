import { Injectable } from '@nestjs/common';
import { MetricsService } from '../common/metrics/metrics.service';
import type { OrchestrationResult, OrchestrationStatus } from '../orchestration/orchestration.types';
import { STATE_TYPES, type StateType } from '../orchestration/states';

const DECISIONS: OrchestrationStatus[] = ['ACCEPT', 'REJECT', 'WAIT', 'ABORT'];

/** The two routes of the write fast path (task-run-writes.middleware.ts) and how a request went. */
export type FastPathRoute = 'create' | 'set_state';
export type FastPathOutcome = 'fast' | 'framework';

/**
 * Counters of what the task-run API did (docs/operating.md, "Metrics"): runs created, states written by
 * type, and orchestration decisions. Every label combination starts at 0, so rates work from the first scrape.
 * Fed by `TaskRunsController` from its answers (an interceptor did it before: it cost every create and
 * set_state an rxjs pipeline, docs/performance.md).
 */
@Injectable()
export class TaskRunMetrics {
  private readonly created;
  private readonly transitions;
  private readonly decisions;
  private readonly fastPathCounters = new Map<string, { inc(): void }>();

  constructor(metrics: MetricsService) {
    this.created = metrics.counter('prefect_task_runs_created_total', 'Task runs created through the API.');
    this.transitions = metrics.counter(
      'prefect_task_run_state_transitions_total',
      'States written to task runs through the API (creations included), by the new state type.',
      ['state_type'],
    );
    this.decisions = metrics.counter(
      'prefect_task_run_orchestration_decisions_total',
      'Answers of POST /task_runs/{id}/set_state, by decision.',
      ['decision'],
    );
    this.created.inc(0);
    for (const type of STATE_TYPES) {
      this.transitions.inc({ state_type: type }, 0);
    }
    for (const decision of DECISIONS) {
      this.decisions.inc({ decision }, 0);
    }
    const fastPath = metrics.counter(
      'prefect_task_run_write_path_total',
      'POST /task_runs/ and /task_runs/{id}/set_state requests, by route and by the path that took them: ' +
        '"fast" (the precompiled validator and renderer) or "framework" (Nest\'s pipe, e.g. for every invalid body).',
      ['route', 'path'],
    );
    for (const route of ['create', 'set_state'] as const) {
      for (const path of ['fast', 'framework'] as const) {
        const child = fastPath.labels({ route, path });
        child.inc(0);
        this.fastPathCounters.set(`${route}:${path}`, child);
      }
    }
  }

  /** A write request was taken by the fast path, or handed to the framework's route (docs/performance.md). */
  writePath(route: FastPathRoute, outcome: FastPathOutcome): void {
    this.fastPathCounters.get(`${route}:${outcome}`)!.inc();
  }

  /** A run was created with its first state. */
  runCreated(stateType: StateType | null | undefined): void {
    this.created.inc();
    if (stateType) {
      this.transitions.inc({ state_type: stateType });
    }
  }

  /** set_state answered; `wroteState` when a new state was written (201). */
  orchestrated(result: OrchestrationResult, wroteState: boolean): void {
    this.decisions.inc({ decision: result.status });
    if (wroteState && result.state) {
      this.transitions.inc({ state_type: result.state.type });
    }
  }
}
