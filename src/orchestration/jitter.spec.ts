import { clampedPoissonInterval, lowerClampMultiple, poissonInterval } from './jitter';

/**
 * The random source is pinned, so every value is exact. The expected numbers were computed independently
 * in Python (float64) with Prefect's formula (`utilities/math.py`: `random.uniform(lower, upper)` between
 * the exponential CDF of the two clamp bounds, then the inverse CDF), for the same draws.
 */
describe('clampedPoissonInterval', () => {
  it.each([
    [0, 7.517717039771911],
    [0.25, 8.63269653909234],
    [0.5, 9.887778354591742],
    [0.9, 12.295243020842344],
    [0.999, 12.992700815300323],
  ])('should map the draw %p to exactly %p for average 10 and clamping factor 0.3', (u, expected) => {
    expect(clampedPoissonInterval(10, 0.3, () => u)).toBeCloseTo(expected, 10);
  });

  it('should use its random source once per interval, in order', () => {
    const draws = [0.25, 0.999, 0.5];
    const random = jest.fn(() => draws.shift()!);
    const got = [1, 2, 3].map(() => clampedPoissonInterval(10, 0.5, random));
    expect(random).toHaveBeenCalledTimes(3);
    expect(got[0]).toBeCloseTo(7.864311813631132, 10);
    expect(got[1]).toBeCloseTo(14.986126119707963, 10);
    expect(got[2]).toBeCloseTo(9.72803838526652, 10);
  });

  it('should reach the clamp bounds exactly at the extreme draws', () => {
    expect(clampedPoissonInterval(2, 1, () => 0)).toBeCloseTo(0.8300749985576875, 10); // 2·log2(4/3)
    expect(clampedPoissonInterval(2, 1, () => 0.5)).toBeCloseTo(1.843484121505452, 10);
    expect(poissonInterval(10, 0, 1, () => 0.5)).toBeCloseTo(6.931471805599453, 10); // 10·ln 2
  });

  it('should not clamp from below for large multiples (lower_clamp_multiple)', () => {
    expect(lowerClampMultiple(50)).toBe(0);
    expect(lowerClampMultiple(2)).toBeCloseTo(0.41503749927884376, 12);
  });

  it('should refuse a non-positive clamping factor', () => {
    expect(() => clampedPoissonInterval(10, 0)).toThrow(RangeError);
  });
});
