import { randomUUID } from 'node:crypto';
import { at, fullTaskRunPayload, taskRunEvent } from '../../../test/factories/task-run-event.factory';
import {
  dbRecordableTaskRunFromEvent,
  InvalidTaskRunEventError,
  isRecordableTaskRunEvent,
  taskRunFromEvent,
} from './task-run-event.mapper';

/** An event as raw JSON, to break on purpose: the mapper's input is untrusted wire data. */
interface RawEvent {
  resource: Record<string, unknown>;
  related: unknown[];
  occurred: unknown;
  payload: { validated_state?: Record<string, unknown>; task_run?: Record<string, unknown> };
}
const raw = (e: object): RawEvent => e as RawEvent;

describe('task-run event mapper', () => {
  const taskRunId = randomUUID();
  const flowRunId = randomUUID();

  describe(isRecordableTaskRunEvent.name, () => {
    it('should accept client-orchestrated task-run events only', () => {
      const e = taskRunEvent({ taskRunId, type: 'RUNNING', occurred: at(0) });
      expect(isRecordableTaskRunEvent(e)).toBe(true);
      expect(
        isRecordableTaskRunEvent({ ...e, resource: { ...e.resource, 'prefect.orchestration': 'server' } }),
      ).toBe(false);
      const { ['prefect.orchestration']: _, ...withoutLabel } = e.resource;
      expect(isRecordableTaskRunEvent({ ...e, resource: withoutLabel })).toBe(false);
      expect(isRecordableTaskRunEvent({ ...e, event: 'prefect.flow-run.Running' })).toBe(false);
      // upstream's prefix is bare (no trailing dot): docs/reference.md §8 point 7
      expect(isRecordableTaskRunEvent({ ...e, event: 'prefect.task-runner.Something' })).toBe(true);
    });
  });

  describe(taskRunFromEvent.name, () => {
    it('should take the ids from the resources and the state from the event', () => {
      const e = taskRunEvent({
        taskRunId,
        flowRunId,
        type: 'RUNNING',
        occurred: '2026-01-02T03:04:05.123456+00:00',
      });
      const sut = taskRunFromEvent(e);
      expect(sut.id).toBe(taskRunId);
      expect(sut.flowRunId).toBe(flowRunId);
      expect(sut.state).toEqual({
        id: e.id,
        type: 'RUNNING',
        name: 'Running',
        timestamp: '2026-01-02T03:04:05.123456Z',
        message: '',
        stateDetails: { task_run_id: taskRunId, flow_run_id: flowRunId },
        data: null,
      });
    });

    it('should use the first flow-run related resource and null without one', () => {
      const e = taskRunEvent({ taskRunId, flowRunId, type: 'RUNNING', occurred: at(0) });
      const other = randomUUID();
      e.related.push({
        'prefect.resource.id': `prefect.flow-run.${other}`,
        'prefect.resource.role': 'flow-run',
      });
      expect(taskRunFromEvent(e).flowRunId).toBe(flowRunId);
      expect(
        taskRunFromEvent(taskRunEvent({ taskRunId, type: 'RUNNING', occurred: at(0) })).flowRunId,
      ).toBeNull();
    });

    it('should overwrite the ids in state_details and keep the rest', () => {
      const e = taskRunEvent({
        taskRunId,
        flowRunId,
        type: 'COMPLETED',
        occurred: at(0),
        data: { storage_key: 'k' },
      });
      raw(e).payload.validated_state!.state_details = { cache_key: 'c', task_run_id: randomUUID() };
      const sut = taskRunFromEvent(e);
      expect(sut.state.stateDetails).toEqual({
        cache_key: 'c',
        task_run_id: taskRunId,
        flow_run_id: flowRunId,
      });
      expect(sut.state.data).toEqual({ storage_key: 'k' });
    });

    it('should derive a missing state name from the type', () => {
      const e = taskRunEvent({ taskRunId, type: 'CANCELLING', occurred: at(0) });
      raw(e).payload.validated_state!.name = null;
      expect(taskRunFromEvent(e).state.name).toBe('Cancelling');
    });

    it('should ignore payload keys that the resources own', () => {
      const e = taskRunEvent({
        taskRunId,
        flowRunId,
        type: 'RUNNING',
        occurred: at(0),
        taskRun: fullTaskRunPayload({
          id: randomUUID(),
          flow_run_id: randomUUID(),
          state_type: 'FAILED',
          estimated_run_time: 3,
        }),
      });
      const sut = taskRunFromEvent(e);
      expect(sut.id).toBe(taskRunId);
      expect(sut.flowRunId).toBe(flowRunId);
      expect(sut.fields).not.toHaveProperty('state_type');
      expect(sut.fields).not.toHaveProperty('estimated_run_time');
    });

    it.each([
      [
        'a resource that is not a task run',
        (e: RawEvent) => (e.resource['prefect.resource.id'] = 'prefect.flow-run.x'),
      ],
      [
        'a task-run id that is not a UUID',
        (e: RawEvent) => (e.resource['prefect.resource.id'] = 'prefect.task-run.nope'),
      ],
      [
        'a malformed flow-run resource',
        (e: RawEvent) =>
          e.related.push({
            'prefect.resource.id': 'prefect.flow-run.1',
            'prefect.resource.role': 'flow-run',
          }),
      ],
      ['no validated_state', (e: RawEvent) => delete e.payload.validated_state],
      ['no task_run', (e: RawEvent) => delete e.payload.task_run],
      ['an unknown state type', (e: RawEvent) => (e.payload.validated_state!.type = 'DONE')],
      ['no task_key', (e: RawEvent) => delete e.payload.task_run!.task_key],
      ['no dynamic_key', (e: RawEvent) => delete e.payload.task_run!.dynamic_key],
      ['a bad datetime', (e: RawEvent) => (e.payload.task_run!.start_time = 'yesterday')],
      ['tags that are not strings', (e: RawEvent) => (e.payload.task_run!.tags = [1])],
      ['a negative run_count', (e: RawEvent) => (e.payload.task_run!.run_count = -1)],
      ['null tags', (e: RawEvent) => (e.payload.task_run!.tags = null)],
      ['a bad occurred', (e: RawEvent) => (e.occurred = 'then')],
    ])('should refuse an event with %s', (_, mutate) => {
      const e = taskRunEvent({ taskRunId, type: 'RUNNING', occurred: at(0) });
      mutate(raw(e));
      expect(() => taskRunFromEvent(e)).toThrow(InvalidTaskRunEventError);
    });
  });

  describe(dbRecordableTaskRunFromEvent.name, () => {
    it('should hold exactly the present fields, the ids and the state columns', () => {
      const e = taskRunEvent({
        taskRunId,
        flowRunId,
        type: 'RUNNING',
        occurred: at(5),
        taskRun: {
          task_key: 'k',
          dynamic_key: 'd',
          tags: ['x'],
          start_time: '2026-01-02T03:04:05Z',
          total_run_time: 1.5,
        },
      });
      const { row, state, stateMicros } = dbRecordableTaskRunFromEvent(e);
      expect(row).toEqual({
        id: taskRunId,
        flow_run_id: flowRunId,
        task_key: 'k',
        dynamic_key: 'd',
        tags: '["x"]',
        start_time: '2026-01-02T03:04:05.000000Z',
        total_run_time: '1.5 seconds',
        state_id: e.id,
        state_type: 'RUNNING',
        state_name: 'Running',
        state_timestamp: at(5),
      });
      expect(state.id).toBe(e.id);
      expect(stateMicros).toBe(Date.UTC(2026, 0, 2, 3, 4, 5) * 1000 + 5);
    });

    it('should keep explicit nulls and leave omitted keys out', () => {
      const e = taskRunEvent({
        taskRunId,
        type: 'RUNNING',
        occurred: at(0),
        taskRun: { task_key: 'k', dynamic_key: 'd', labels: null, end_time: null, cache_key: null },
      });
      const { row } = dbRecordableTaskRunFromEvent(e);
      expect(row).toMatchObject({ labels: null, end_time: null, cache_key: null, flow_run_id: null });
      expect(row).not.toHaveProperty('start_time');
      expect(row).not.toHaveProperty('tags');
    });

    it('should treat a null or empty name as no name', () => {
      const e = taskRunEvent({
        taskRunId,
        type: 'RUNNING',
        occurred: at(0),
        taskRun: { task_key: 'k', dynamic_key: 'd', name: '' },
      });
      expect(dbRecordableTaskRunFromEvent(e).row).not.toHaveProperty('name');
    });
  });
});
