import { isAsSent, parseEvent, parseReceivedEvent } from './event.schema';

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

  it('should normalise every timestamp alike, before and after a canonical one of the same second', () => {
    const occurred = (value: string) => parseEvent({ ...base, occurred: value }, limits);
    const cases: [string, string | undefined][] = [
      ['2026-01-02T03:04:05.123456Z', '2026-01-02T03:04:05.123456Z'],
      ['2026-01-02T03:04:05.999999Z', '2026-01-02T03:04:05.999999Z'],
      ['2026-01-02T03:04:05.000000+01:00', '2026-01-02T02:04:05.000000Z'],
      ['2026-01-02T03:04:05.5Z', '2026-01-02T03:04:05.500000Z'],
      ['2026-01-02T24:00:00.000000Z', undefined],
      ['2026-01-02T03:04:60.000000Z', '2026-01-02T03:05:00.000000Z'],
      ['2026-02-30T03:04:05.000000Z', undefined],
      ['2026-01-02T03:04:05.12345xZ', undefined],
      [' 2026-01-02T03:04:05.123456Z', '2026-01-02T03:04:05.123456Z'],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [input, expected] of cases) {
        const parsed = occurred(input);
        expect([input, parsed.event?.occurred]).toEqual([input, expected]);
      }
    }
  });

  it('should skip serialising for the size check only when told the event fits', () => {
    const big = { ...base, payload: { blob: 'x'.repeat(2000) } };
    expect(parseEvent(big, limits).issues![0].type).toBe('too_large');
    expect(parseEvent(big, limits, [], true).event).toBeDefined();
  });

  it('should tell which events read back as sent', () => {
    const sent = {
      id: '9b2c5f3e-1234-4abc-8def-0123456789ab',
      occurred: '2026-01-02T02:04:05.123456Z',
      event: 'a.b',
      resource: { 'prefect.resource.id': 'r' },
    };
    const asSent = (raw: Record<string, unknown>) => isAsSent(raw, parseEvent(raw, limits).event!);
    expect(asSent(sent)).toBe(true);
    expect(asSent({ ...sent, related: [], payload: { a: 1 }, follows: null })).toBe(true);
    expect(asSent({ ...sent, follows: sent.id })).toBe(true);
    expect(asSent(base)).toBe(false);
    expect(asSent({ ...sent, id: sent.id.toUpperCase() })).toBe(false);
    expect(asSent({ ...sent, follows: sent.id.toUpperCase() })).toBe(false);
    expect(asSent({ ...sent, occurred: '2026-01-02T02:04:05Z' })).toBe(false);
    expect(asSent({ ...sent, related: null })).toBe(false);
    expect(asSent({ ...sent, payload: null })).toBe(false);
    expect(asSent({ ...sent, account: 'x' })).toBe(false);
    expect(asSent({ ...sent, received: '2026-01-02T02:04:05.123456Z' })).toBe(false);
  });

  it('should read received for a ReceivedEvent', () => {
    expect(parseReceivedEvent({ ...base, received: '2026-01-02T00:00:00Z' }, limits)).toMatchObject({
      event: { received: '2026-01-02T00:00:00.000000Z' },
    });
    expect('issues' in parseReceivedEvent(base, limits)).toBe(true);
  });
});
