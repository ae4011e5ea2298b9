import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { TaskRunResponse } from '../../src/task-runs/dto/task-run.response';

/** The TaskRun JSON the API answers (the response DTO's shape). */
export type TaskRunJson = TaskRunResponse;

let seq = 0;

/**
 * A `POST /api/task_runs/` body: task key `task`, a dynamic key unique in this process, no flow run;
 * `overrides` replace or add any field (pass `dynamic_key` to create the same run twice).
 */
export function taskRunBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return { task_key: 'task', dynamic_key: `${seq}-${randomUUID().slice(0, 8)}`, ...overrides };
}

/** The body of a background run (`Task.apply_async` / `delay`): deferred SCHEDULED, so it is queued. */
export function deferredTaskRunBody(taskKey: string, overrides: Record<string, unknown> = {}) {
  return taskRunBody({
    task_key: taskKey,
    state: { type: 'SCHEDULED', state_details: { deferred: true } },
    ...overrides,
  });
}

/** Creates a task run through the API (`baseUrl` without `/api`) and checks the status (201 = new). */
export async function createTaskRun(
  baseUrl: string,
  overrides: Record<string, unknown> = {},
  expectedStatus = 201,
): Promise<TaskRunJson> {
  const res = await request(baseUrl)
    .post('/api/task_runs/')
    .send(taskRunBody(overrides))
    .expect(expectedStatus);
  return res.body as TaskRunJson;
}

/** Creates a deferred SCHEDULED run for `taskKey` through the API: it is queued for task workers. */
export async function createDeferredTaskRun(
  baseUrl: string,
  taskKey: string,
  expectedStatus = 201,
): Promise<TaskRunJson> {
  const res = await request(baseUrl)
    .post('/api/task_runs/')
    .send(deferredTaskRunBody(taskKey))
    .expect(expectedStatus);
  return res.body as TaskRunJson;
}
