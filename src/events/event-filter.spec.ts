import {
  defaultSince,
  eventMatches,
  FilterParseError,
  FilterSql,
  filterToWire,
  parseEventFilter,
  parseTextQuery,
} from './event-filter';

const NOW = Date.UTC(2026, 5, 15, 12, 30) * 1000;

describe('parseEventFilter', () => {
  it('should default occurred to [start of today − 180 days, now] and order DESC', () => {
    expect(parseEventFilter(null, NOW)).toEqual({
      occurred: { since: '2025-12-17T00:00:00.000000Z', until: '2026-06-15T12:30:00.000000Z' },
      order: 'DESC',
    });
    expect(defaultSince(NOW)).toBe('2025-12-17T00:00:00.000000Z');
  });

  it('should accept a related/any_resource object or list, and label values as a string or a list', () => {
    const f = parseEventFilter(
      {
        related: { role: ['tag'] },
        any_resource: [{ id: ['a'] }, { labels: { env: 'prod', x: ['1', '!2'] } }],
      },
      NOW,
    );
    expect(f.related).toEqual([
      { role: ['tag'], id: undefined, resourcesInRoles: undefined, labels: undefined },
    ]);
    expect(f.anyResource![1].labels).toEqual({ env: ['prod'], x: ['1', '!2'] });
  });

  it('should treat empty lists as no constraint, as Prefect clients send them by default', () => {
    const f = parseEventFilter(
      {
        id: { id: [] },
        event: { prefix: [], exclude_prefix: [], name: [], exclude_name: [] },
        resource: { id: [], id_prefix: [], labels: {}, distinct: false },
        related: { id: [], role: [], resources_in_roles: [] },
        any_resource: { id: [], id_prefix: [] },
        text: null,
        order: 'DESC',
      },
      NOW,
    );
    const e = {
      id: '00000000-0000-4000-8000-000000000001',
      occurred: '2026-06-15T12:00:00.000000Z',
      received: '2026-06-15T12:00:00.000000Z',
      event: 'x',
      resource: { 'prefect.resource.id': 'r' },
      related: [{ 'prefect.resource.id': 'q', 'prefect.resource.role': 'tag' }],
      payload: {},
      follows: null,
    };
    expect(eventMatches(f, e)).toBe(true);
    expect(new FilterSql().where(f)).not.toContain('ANY');
  });

  it('should round-trip through its wire form (page tokens)', () => {
    const f = parseEventFilter(
      { event: { prefix: ['a.'] }, resource: { distinct: true }, order: 'ASC', text: { query: 'x' } },
      NOW,
    );
    expect(parseEventFilter(filterToWire(f), NOW + 1e9)).toEqual(f);
  });

  it('should forbid extra keys and bad values, with locations', () => {
    try {
      parseEventFilter({ nope: 1, order: 'UP', id: { id: ['x'] }, occurred: { since: 'never' } }, NOW);
      throw new Error('expected a FilterParseError');
    } catch (err) {
      expect(err).toBeInstanceOf(FilterParseError);
      expect((err as FilterParseError).issues.map((i) => i.loc.join('.'))).toEqual([
        'body.filter.nope',
        'body.filter.occurred.since',
        'body.filter.id.id.0',
        'body.filter.order',
      ]);
    }
  });
});

describe('parseTextQuery', () => {
  it('should split plain, +required, -excluded terms and "quoted phrases"', () => {
    expect(parseTextQuery('fox -cat +"lazy dog" "brown fox" +x')).toEqual({
      include: ['fox', 'brown fox'],
      required: ['lazy dog', 'x'],
      exclude: ['cat'],
    });
  });
});
