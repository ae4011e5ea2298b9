import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ApiAuthService } from '../common/auth/api-auth.service';
import { uuidParam } from '../common/http/uuid-param';
import { checkPlainBody, PlainBodyLimits } from '../common/validation/plain-body-checks';
import { AppConfig } from '../config/app-config';
import { acceptCreateBody, acceptSetStateBody } from './task-run-writes.validator';
import { TaskRunMetrics } from './task-run.metrics';
import { TaskRunsService } from './task-runs.service';

/**
 * Writes a JSON answer as express's `res.status(status).json(body)` does for these routes (no ETag, no JSON
 * replacer or spaces are configured, and a POST is never fresh), without its per-call setting lookups.
 */
function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * The fast path of the two hot write routes, `POST /api/task_runs/` and `POST /api/task_runs/{id}/set_state`
 * (docs/performance.md, "Fourth round"; docs/architecture.md, "Flows of data"). A request whose credentials,
 * route parameter and body the precompiled acceptors (task-run-writes.validator.ts) find valid is answered
 * here: the same `TaskRunsService` call, task-run metrics and status as `TaskRunsController`, the answer
 * written directly. Everything else (no or wrong credentials, a non-UUID id, any body the acceptors do not
 * take) goes on to the controller's route unchanged (`next()`), so every 401, 404 and 422 is the framework's
 * own. Errors of the service reach the global exception filter through Nest's middleware proxy, as they
 * would from the controller.
 *
 * What stays on the request's way either side: the access log, HTTP metrics, body parser and its limits,
 * the JSON shape checks and CORS (all mounted before any module middleware), and the controller's route for
 * the OpenAPI document. What this path skips: the guard and pipe chain, class-transformer and
 * class-validator, the router's walk over the other routes, and `res.json`.
 */
@Injectable()
export class TaskRunWritesFastPath {
  private readonly limits: PlainBodyLimits;

  constructor(
    private readonly taskRuns: TaskRunsService,
    private readonly metrics: TaskRunMetrics,
    private readonly auth: ApiAuthService,
    config: AppConfig,
  ) {
    this.limits = { maxObjectKeys: config.server.bodyMaxObjectKeys };
  }

  /** `POST /api/task_runs/`: 201 for a new run, 200 for a known id or natural key (TaskRunsController.create). */
  async create(req: Request, res: Response, next: NextFunction): Promise<void> {
    const dto = this.authorized(req) ? acceptCreateBody(req.body) : undefined;
    if (!dto || !this.plainText(dto)) {
      this.metrics.writePath('create', 'framework');
      return next();
    }
    this.metrics.writePath('create', 'fast');
    const { taskRun, created } = await this.taskRuns.createTaskRun(dto);
    if (created) {
      this.metrics.runCreated(taskRun.state?.type);
    }
    sendJson(res, created ? 201 : 200, taskRun);
  }

  /** `POST /api/task_runs/{id}/set_state`: 201 when a new state was written, else 200 (TaskRunsController.setState). */
  async setState(req: Request, res: Response, next: NextFunction): Promise<void> {
    const id: unknown = req.params.id;
    const dto =
      this.authorized(req) && typeof id === 'string' && uuidParam.accepts(id)
        ? acceptSetStateBody(req.body)
        : undefined;
    if (typeof id !== 'string' || !dto || !this.plainText(dto)) {
      this.metrics.writePath('set_state', 'framework');
      return next();
    }
    this.metrics.writePath('set_state', 'fast');
    const { result, created } = await this.taskRuns.setTaskRunState(id, dto);
    this.metrics.orchestrated(result, created);
    sendJson(res, created ? 201 : 200, result);
  }

  /** The global guard's check (ApiAuthGuard): these routes are not public. */
  private authorized(req: Request): boolean {
    return this.auth.isAuthorized(req.headers.authorization);
  }

  /** The validation pipe's first check (`checkPlainBody`); free for bodies the JSON middleware marked clean. */
  private plainText(body: object): boolean {
    return checkPlainBody(body, this.limits).length === 0;
  }
}

/**
 * Mounted by TaskRunsModule on exactly the two write routes (so `req.route` is the controller's template for
 * the access log and HTTP metrics); hands each request to TaskRunWritesFastPath.
 */
@Injectable()
export class TaskRunWritesMiddleware implements NestMiddleware {
  constructor(private readonly fastPath: TaskRunWritesFastPath) {}

  use(req: Request, res: Response, next: NextFunction): Promise<void> {
    return req.params.id === undefined
      ? this.fastPath.create(req, res, next)
      : this.fastPath.setState(req, res, next);
  }
}
