import { fromMicros } from '../common/time/timestamp';
import { placeResult } from './task-run-orchestration.ports';
import {
  estimatedRunTime,
  estimatedStartTimeDelta,
  isTruthyJson,
  stateData,
  TaskRunRow,
  toReducedTaskRunJson,
} from './task-run.mapper';

const T = Date.UTC(2026, 0, 1) * 1000;
const at = (s: number) => fromMicros(T + s * 1e6);
const timing = (o: Partial<Parameters<typeof estimatedRunTime>[0]>) => ({
  state_type: null,
  state_timestamp: null,
  total_run_time: 0,
  start_time: null,
  expected_start_time: null,
  ...o,
});

describe('task-run mapper', () => {
  it('should estimate run time: RUNNING adds time since the state began', () => {
    expect(
      estimatedRunTime(
        timing({ state_type: 'RUNNING', state_timestamp: at(10), total_run_time: 5 }),
        T + 15e6,
      ),
    ).toBe(10);
    expect(
      estimatedRunTime(
        timing({ state_type: 'COMPLETED', state_timestamp: at(10), total_run_time: 5 }),
        T + 15e6,
      ),
    ).toBe(5);
  });

  it('should estimate start lateness', () => {
    expect(estimatedStartTimeDelta(timing({ expected_start_time: at(0), start_time: at(3) }), T + 99e6)).toBe(
      3,
    );
    expect(estimatedStartTimeDelta(timing({ expected_start_time: at(5), start_time: at(3) }), T + 99e6)).toBe(
      0,
    );
    expect(
      estimatedStartTimeDelta(timing({ expected_start_time: at(0), state_type: 'PENDING' }), T + 7e6),
    ).toBe(7);
    expect(
      estimatedStartTimeDelta(timing({ expected_start_time: at(0), state_type: 'FAILED' }), T + 7e6),
    ).toBe(0);
    expect(
      estimatedStartTimeDelta(timing({ expected_start_time: at(10), state_type: 'PENDING' }), T + 7e6),
    ).toBe(0);
  });

  it('should read inline data when truthy, else the artifact', () => {
    expect(isTruthyJson({})).toBe(false);
    expect(isTruthyJson([])).toBe(false);
    expect(isTruthyJson(0)).toBe(false);
    expect(isTruthyJson({ a: 1 })).toBe(true);
    expect(stateData({ inline: 1 }, { artifact: 1 })).toEqual({ inline: 1 });
    expect(stateData(null, { artifact: 1 })).toEqual({ artifact: 1 });
    expect(stateData({}, { artifact: 1 })).toEqual({ artifact: 1 });
  });

  it('should place results: unpersisted inline, anything else in an artifact with popped key/type', () => {
    expect(placeResult({ type: 'unpersisted' })).toEqual({
      inline: { type: 'unpersisted' },
      artifact: null,
      data: { type: 'unpersisted' },
    });
    expect(placeResult(null).artifact).toBeNull();
    expect(placeResult({ value: 1, artifact_key: 'k', artifact_type: 't' })).toEqual({
      inline: null,
      artifact: { key: 'k', type: 't', description: null, data: { value: 1 } },
      data: { value: 1 },
    });
    expect(placeResult(42).artifact?.data).toBe(42);
  });

  it('should reduce a TaskRun for /paginate', () => {
    const reduced = toReducedTaskRunJson(
      { id: 'x', name: 'n', tags: [], total_run_time: 0 } as unknown as TaskRunRow,
      T,
    );
    expect(Object.keys(reduced)).toHaveLength(17);
    expect(reduced).not.toHaveProperty('labels');
  });
});
