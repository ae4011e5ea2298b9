import { eventMatches } from './match';
import { parseEventFilter } from './parse';

const NOW = Date.UTC(2026, 5, 15, 12, 30) * 1000;

describe(eventMatches.name, () => {
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
  });
});
