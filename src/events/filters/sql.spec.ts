import { SqlParams } from '../../database/sql-params';
import { parseEventFilter } from './parse';
import { FilterSql } from './sql';

const NOW = Date.UTC(2026, 5, 15, 12, 30) * 1000;

describe(FilterSql.name, () => {
  it('should treat empty lists as no constraint, as Prefect clients send them by default', () => {
    const f = parseEventFilter(
      {
        id: { id: [] },
        event: { prefix: [], exclude_prefix: [], name: [], exclude_name: [] },
        resource: { id: [], id_prefix: [], labels: {}, distinct: false },
        related: { id: [], role: [], resources_in_roles: [] },
        any_resource: { id: [], id_prefix: [] },
        order: 'DESC',
      },
      NOW,
    );
    expect(new FilterSql().where(f)).not.toContain('ANY');
  });

  it('should add its values to the shared parameters, numbering after the ones already there', () => {
    const params = new SqlParams();
    params.add('before');
    const where = new FilterSql(params).where(
      parseEventFilter({ event: { name: ['a.b'] }, resource: { id_prefix: ['x_%'] } }, NOW),
    );
    expect(where).toBe(
      'e.occurred >= $2::timestamptz AND e.occurred <= $3::timestamptz AND e.event = ANY($4::text[])' +
        ' AND e.resource_id LIKE ANY($5::text[])',
    );
    expect(params.values).toEqual([
      'before',
      '2025-12-17T00:00:00.000000Z',
      '2026-06-15T12:30:00.000000Z',
      ['a.b'],
      ['x\\_\\%%'],
    ]);
  });
});
