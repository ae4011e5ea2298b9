import { FilterParseError } from './event-filter.types';
import { defaultSince, parseEventFilter } from './parse';

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
