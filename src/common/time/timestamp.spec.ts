import { FakeClock, SystemClock } from './clock';
import { fromMicros, isTimestamp, normalizeTimestamp, secondsBetween, toMicros } from './timestamp';

describe('timestamps', () => {
  it.each([
    ['2026-01-02T03:04:05.123456Z', '2026-01-02T03:04:05.123456Z'],
    ['2026-01-02T03:04:05.123456+00:00', '2026-01-02T03:04:05.123456Z'],
    ['2026-01-02T05:04:05.123456+02:00', '2026-01-02T03:04:05.123456Z'],
    ['2026-01-02T03:04:05', '2026-01-02T03:04:05.000000Z'],
    ['2026-01-02 03:04:05.1+00', '2026-01-02T03:04:05.100000Z'],
    ['2026-01-02T03:04:05.1234567Z', '2026-01-02T03:04:05.123456Z'],
    ['2026-01-01T23:30:00-01:00', '2026-01-02T00:30:00.000000Z'],
    ['2026-01-02', '2026-01-02T00:00:00.000000Z'],
  ])('should normalise %s to %s', (input, expected) => {
    expect(normalizeTimestamp(input)).toBe(expected);
  });

  it('should keep microseconds through a round trip', () => {
    const micros = toMicros('2026-11-28T06:11:25.000001Z');
    expect(micros % 1000).toBe(1);
    expect(fromMicros(micros)).toBe('2026-11-28T06:11:25.000001Z');
    expect(fromMicros(micros + 1)).toBe('2026-11-28T06:11:25.000002Z');
  });

  it.each(['', 'yesterday', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T25:00:00Z', 42])(
    'should reject %j',
    (input) => {
      expect(isTimestamp(input)).toBe(false);
    },
  );

  it('should measure seconds between timestamps', () => {
    expect(secondsBetween('2026-01-01T00:00:00Z', '2026-01-01T00:00:01.5Z')).toBe(1.5);
  });
});

describe(SystemClock.name, () => {
  it('should never return the same microsecond twice', () => {
    const sut = new SystemClock();
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      seen.add(sut.nowMicros());
    }
    expect(seen.size).toBe(10_000);
    expect(Math.abs(sut.nowMicros() / 1000 - Date.now())).toBeLessThan(1000);
  });
});

describe(FakeClock.name, () => {
  it('should move only when told to', () => {
    const sut = new FakeClock(toMicros('2026-01-01T00:00:00Z'));
    expect(sut.now()).toBe('2026-01-01T00:00:00.000000Z');
    sut.advance(1.000001);
    expect(sut.now()).toBe('2026-01-01T00:00:01.000001Z');
  });
});
