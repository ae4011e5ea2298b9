import { SqlParams } from '../database/sql-params';
import type { TaskRunFiltersDto } from './dto/filters.dto';
import { compileTaskRunWhere } from './filters/task-run-filter.compiler';
import { maintainedCountScope } from './task-run-queries.service';

const scopeOf = (filters: TaskRunFiltersDto) => {
  const p = new SqlParams();
  return maintainedCountScope(compileTaskRunWhere(filters, p), p);
};

describe(maintainedCountScope.name, () => {
  it('should answer every run for filters that compile to nothing', () => {
    expect(scopeOf({})).toBeNull();
    expect(scopeOf({ task_runs: {} })).toBeNull();
    expect(scopeOf({ task_runs: { state: {} } })).toBeNull();
    expect(scopeOf({ task_runs: { state: { type: {} }, operator: 'or_' } })).toBeNull();
  });

  it('should answer the state types for a filter on the state type alone, however spelt', () => {
    expect(scopeOf({ task_runs: { state: { type: { any_: ['FAILED'] } } } })).toEqual(['FAILED']);
    expect(scopeOf({ task_runs: { state: { type: { any_: ['FAILED', 'CRASHED'] } } } })).toEqual([
      'FAILED',
      'CRASHED',
    ]);
    expect(scopeOf({ task_runs: { state: { type: { any_: [] } } } })).toEqual([]);
    expect(
      scopeOf({ task_runs: { operator: 'or_', state: { operator: 'or_', type: { any_: ['RUNNING'] } } } }),
    ).toEqual(['RUNNING']);
  });

  it('should refuse anything else', () => {
    const others: TaskRunFiltersDto[] = [
      { flow_runs: {} },
      { flows: {} },
      { deployments: {} },
      { task_runs: { state: { type: { any_: ['FAILED'] }, name: { any_: ['Failed'] } } } },
      { task_runs: { state: { type: { any_: ['FAILED'] } }, name: { like_: 'x' } } },
      { task_runs: { state: { name: { any_: ['Failed'] } } } },
      { task_runs: { state: { type: { any_: ['FAILED'] } } }, flow_runs: { id: { any_: [] } } },
      { task_runs: { flow_run_id: { is_null_: true } } },
      { task_runs: { start_time: { is_null_: false } } },
    ];
    for (const filters of others) {
      expect({ filters, scope: scopeOf(filters) }).toEqual({ filters, scope: undefined });
    }
  });
});
