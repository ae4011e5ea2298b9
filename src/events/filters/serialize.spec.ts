import { parseEventFilter } from './parse';
import { filterToWire } from './serialize';

const NOW = Date.UTC(2026, 5, 15, 12, 30) * 1000;

describe(filterToWire.name, () => {
  it('should round-trip through its wire form (page tokens)', () => {
    const f = parseEventFilter(
      { event: { prefix: ['a.'] }, resource: { distinct: true }, order: 'ASC', text: { query: 'x' } },
      NOW,
    );
    expect(parseEventFilter(filterToWire(f), NOW + 1e9)).toEqual(f);
  });
});
