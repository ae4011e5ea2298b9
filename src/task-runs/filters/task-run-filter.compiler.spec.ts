import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { SqlParams } from '../../database/sql-params';
import { FilterTaskRunsDto } from '../dto/task-runs.dto';
import { compileTaskRunWhere, orderBy } from './task-run-filter.compiler';

const compile = (body: Record<string, unknown>) => {
  const p = new SqlParams();
  const sql = compileTaskRunWhere(plainToInstance(FilterTaskRunsDto, body), p);
  return { sql, values: p.values };
};

describe('compileTaskRunWhere', () => {
  it('should match everything for an empty body', () => {
    expect(compile({})).toEqual({ sql: 'TRUE', values: [] });
  });

  it('should never put values into the SQL text', () => {
    const evil = "x'); DROP TABLE task_run; --";
    const { sql, values } = compile({
      task_runs: {
        name: { any_: [evil], like_: evil },
        tags: { all_: [evil] },
        state: { name: { any_: [evil] } },
      },
      flow_runs: {
        name: { like_: evil },
        idempotency_key: { not_any_: [evil] },
        created_by: { type_: [evil] },
      },
      flows: { name: { any_: [evil] } },
      deployments: { flow_or_deployment_name: { like_: evil }, work_queue_name: { any_: [evil] } },
    });
    expect(sql).not.toContain('DROP');
    expect(sql).toMatch(/\$\d+/);
    expect(JSON.stringify(values)).toContain('DROP');
  });

  it('should use the flow_run_id fast path for flow_runs.id.any_ alone', () => {
    const id = '00000000-0000-4000-8000-000000000001';
    expect(compile({ flow_runs: { id: { any_: [id] } } })).toEqual({
      sql: 'tr.flow_run_id = ANY($1::uuid[])',
      values: [[id]],
    });
    expect(compile({ flow_runs: { id: { any_: [id] } }, flows: {} }).sql).toContain(
      'EXISTS (SELECT 1 FROM flow_run fr JOIN flow f',
    );
  });

  it('should add an EXISTS for an empty flow_runs object (dropping flow-less runs)', () => {
    expect(compile({ flow_runs: {} }).sql).toBe(
      'EXISTS (SELECT 1 FROM flow_run fr  WHERE fr.id = tr.flow_run_id)',
    );
  });

  it('should combine with OR under operator or_', () => {
    const { sql } = compile({
      task_runs: { operator: 'or_', name: { any_: ['a'] }, tags: { is_null_: true } },
    });
    expect(sql).toBe(`(tr.name = ANY($1::text[]) OR tr.tags = '[]'::jsonb)`);
  });

  it('should order with unindexed expressions only for a trigram-able like_', () => {
    const dto = (like: string) =>
      plainToInstance(FilterTaskRunsDto, { task_runs: { name: { like_: like } } });
    expect(orderBy(dto('ab'), 'NAME_ASC')).toBe('tr.name ASC');
    expect(orderBy(dto('abc'), 'NAME_ASC')).toBe(`(tr.name || '') ASC`);
  });
});
