import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, tap } from 'rxjs';
import { MetricsService } from '../common/metrics/metrics.service';
import type { OrchestrationResult, OrchestrationStatus } from '../orchestration/orchestration.types';
import { STATE_TYPES, type StateType } from '../orchestration/states';

const DECISIONS: OrchestrationStatus[] = ['ACCEPT', 'REJECT', 'WAIT', 'ABORT'];

/**
 * Counters of what the task-run API did (docs/operating.md, "Metrics"): runs created, states written by
 * type, and orchestration decisions. Every label combination starts at 0, so rates work from the first scrape.
 */
@Injectable()
export class TaskRunMetrics {
  private readonly created;
  private readonly transitions;
  private readonly decisions;

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

/**
 * Feeds TaskRunMetrics from the task-run routes' answers (`@UseInterceptors` on the controller), so the
 * service code stays free of metrics: a 201 from `POST /task_runs/` is a creation, a 201 from `set_state`
 * a written state, and every `set_state` answer a decision.
 */
@Injectable()
export class TaskRunMetricsInterceptor implements NestInterceptor {
  private readonly metrics: TaskRunMetrics;

  constructor(metrics: MetricsService) {
    this.metrics = new TaskRunMetrics(metrics);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handler = context.getHandler().name;
    if (handler !== 'create' && handler !== 'setState') {
      return next.handle();
    }
    const res = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      tap((body: unknown) => {
        try {
          const wrote = res.statusCode === 201;
          if (handler === 'create') {
            if (wrote) {
              this.metrics.runCreated((body as { state?: { type?: StateType } | null }).state?.type);
            }
          } else {
            this.metrics.orchestrated(body as OrchestrationResult, wrote);
          }
        } catch {
          // Metrics never fail a request.
        }
      }),
    );
  }
}
