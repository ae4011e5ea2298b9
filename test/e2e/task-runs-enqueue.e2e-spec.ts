import type { EntityManager } from 'typeorm';
import { Clock } from '../../src/common/time/clock';
import { AppConfig } from '../../src/config/app-config';
import { preparedQuery } from '../../src/database/prepared-query';
import { FlowRunsService } from '../../src/flow-runs/flow-runs.service';
import { OrchestrationPolicy } from '../../src/orchestration/policies/orchestration-policy';
import { TaskQueueKind, TaskQueueStore } from '../../src/task-queues/task-queue.store';
import { TaskRunsService } from '../../src/task-runs/task-runs.service';
import { createTestApp, TestApp } from '../utils/create-test-app';

/** The background-delivery seam: EnqueueScheduledTasks → TaskQueueStore.enqueue inside the transaction. */
class RecordingQueue implements Pick<TaskQueueStore, 'enqueue'> {
  items: {
    taskRunId: string;
    taskKey: string;
    snapshot: Record<string, unknown>;
    queue: TaskQueueKind;
    inTx: boolean;
  }[] = [];
  async enqueue(
    manager: EntityManager,
    item: { taskRunId: string; taskKey: string; snapshot: Record<string, unknown> },
    queue: TaskQueueKind,
  ): Promise<void> {
    // The run's new state is visible inside the caller's transaction. The statement is sent before the first
    // await, as the port requires (the caller may pipeline its COMMIT right behind it).
    const [row] = await preparedQuery<{ state_id: string }>(
      manager,
      'test_recording_queue_state',
      `SELECT state_id FROM task_run WHERE id = $1`,
      [item.taskRunId],
    );
    this.items.push({ ...item, queue, inTx: row?.state_id === (item.snapshot.state as { id: string }).id });
  }
}

describe('TaskRunsService with a TaskQueueStore', () => {
  let t: TestApp;
  let queue: RecordingQueue;
  let sut: TaskRunsService;

  beforeAll(async () => {
    t = await createTestApp({ listen: false });
    queue = new RecordingQueue();
    sut = new TaskRunsService(
      t.dataSource,
      t.app.get(Clock),
      t.app.get(AppConfig),
      t.app.get(OrchestrationPolicy),
      t.app.get(FlowRunsService),
      queue as unknown as TaskQueueStore,
    );
  });

  afterAll(async () => {
    await t.close();
  });

  it('should enqueue a deferred Scheduled run with a full TaskRun snapshot on the scheduled queue', async () => {
    const { taskRun, created } = await sut.createTaskRun({
      task_key: 'bg',
      dynamic_key: '1',
      state: { type: 'SCHEDULED', state_details: { deferred: true } },
    });
    expect(created).toBe(true);
    expect(queue.items).toHaveLength(1);
    const [item] = queue.items;
    expect(item).toMatchObject({ taskRunId: taskRun.id, taskKey: 'bg', queue: 'scheduled', inTx: true });
    expect(item.snapshot).toMatchObject({
      id: taskRun.id,
      state_type: 'SCHEDULED',
      state: {
        type: 'SCHEDULED',
        name: 'Scheduled',
        state_details: { deferred: true, task_run_id: taskRun.id },
      },
    });
    expect(item.snapshot).toEqual(
      await sut
        .readTaskRun(taskRun.id)
        .then((r) => ({ ...r, estimated_start_time_delta: item.snapshot.estimated_start_time_delta })),
    );
  });

  it('should send a deferred AwaitingRetry to the retry queue and skip non-deferred runs', async () => {
    const { taskRun } = await sut.createTaskRun({
      task_key: 'plain',
      dynamic_key: '1',
      state: { type: 'SCHEDULED' },
    });
    const before = queue.items.length;
    await sut.setTaskRunState(taskRun.id, { state: { type: 'RUNNING' } });
    await sut.setTaskRunState(taskRun.id, {
      state: { type: 'SCHEDULED', name: 'AwaitingRetry', state_details: { deferred: true } },
    });
    expect(queue.items.length).toBe(before + 1);
    expect(queue.items.at(-1)).toMatchObject({ taskRunId: taskRun.id, queue: 'retry' });
  });
});
