import { uuid7 } from './state-ids';

describe('uuid7', () => {
  it('should be a v7 UUID carrying the millisecond timestamp', () => {
    const id = uuid7(Date.UTC(2026, 0, 1));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.UTC(2026, 0, 1));
  });

  it('should order by time and differ within a millisecond', () => {
    expect(uuid7(1000) < uuid7(2000)).toBe(true);
    expect(uuid7(1000)).not.toBe(uuid7(1000));
  });
});
