import { parseEvent, parseReceivedEvent } from './event.schema';

const limits = {
  maximumLabelsPerResource: 3,
  maximumRelatedResources: 2,
  maximumSizeBytes: 2000,
  maximumEventNameLength: 10,
};
const base = {
  id: '9B2C5F3E-1234-4ABC-8DEF-0123456789AB',
  occurred: '2026-01-02T03:04:05.123456789+01:00',
  event: 'a.b',
  resource: { 'prefect.resource.id': 'r' },
};

describe('parseEvent', () => {
  it('should normalise ids and timestamps and default the optional fields', () => {
    expect(parseEvent({ ...base, account: 'ignored' }, limits)).toEqual({
      event: {
        id: '9b2c5f3e-1234-4abc-8def-0123456789ab',
        occurred: '2026-01-02T02:04:05.123456Z',
        event: 'a.b',
        resource: { 'prefect.resource.id': 'r' },
        related: [],
        payload: {},
        follows: null,
      },
    });
  });

  it('should enforce every limit and rule of docs/reference.md §6, locating each issue', () => {
    const { issues } = parseEvent(
      {
        ...base,
        event: 'x'.repeat(11),
        resource: { 'prefect.resource.id': '', a: '1', b: '2', c: '3' },
        related: [{ 'prefect.resource.id': 'x', 'prefect.resource.role': '' }],
        follows: 'nope',
      },
      limits,
      ['body', 0],
    );
    expect(issues!.map((i) => [i.loc.join('.'), i.msg])).toEqual([
      ['body.0.event', 'String should have at most 10 characters'],
      ['body.0.resource', 'Value error, The maximum number of labels per resource is 3'],
      ['body.0.resource', 'Value error, The prefect.resource.id label must be non-empty'],
      ['body.0.related.0', 'Value error, The prefect.resource.role label must be non-empty'],
      ['body.0.follows', 'Input should be a valid UUID'],
    ]);
  });

  it('should refuse too many related resources, null label values and missing fields', () => {
    const related = [1, 2, 3].map((i) => ({ 'prefect.resource.id': `r${i}`, 'prefect.resource.role': 'x' }));
    expect(parseEvent({ ...base, related }, limits).issues![0].msg).toContain(
      'maximum number of related resources is 2',
    );
    expect(
      parseEvent({ ...base, resource: { 'prefect.resource.id': 'r', a: null } }, limits).issues![0],
    ).toMatchObject({
      loc: ['resource', 'a'],
      type: 'string_type',
    });
    expect(parseEvent({}, limits).issues!.map((i) => i.loc[0])).toEqual([
      'id',
      'occurred',
      'event',
      'resource',
    ]);
  });

  it('should refuse an event larger than the size limit', () => {
    const { issues } = parseEvent({ ...base, payload: { blob: 'x'.repeat(2000) } }, limits);
    expect(issues![0]).toMatchObject({ type: 'too_large' });
    expect(issues![0].msg).toMatch(/^Event is too large: \d+ bytes exceeds the maximum of 2000 bytes/);
  });

  it('should read received for a ReceivedEvent', () => {
    expect(parseReceivedEvent({ ...base, received: '2026-01-02T00:00:00Z' }, limits)).toMatchObject({
      event: { received: '2026-01-02T00:00:00.000000Z' },
    });
    expect('issues' in parseReceivedEvent(base, limits)).toBe(true);
  });
});
