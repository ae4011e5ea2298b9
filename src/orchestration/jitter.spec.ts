import { clampedPoissonInterval, lowerClampMultiple } from './jitter';

describe('clampedPoissonInterval', () => {
  it('should stay within the clamp for any random draw', () => {
    for (const u of [0, 0.1, 0.5, 0.9, 0.999999]) {
      const v = clampedPoissonInterval(10, 0.3, () => u);
      expect(v).toBeGreaterThanOrEqual(10 * lowerClampMultiple(1.3) - 1e-9);
      expect(v).toBeLessThanOrEqual(13 + 1e-9);
    }
  });

  it('should refuse a non-positive clamping factor', () => {
    expect(() => clampedPoissonInterval(10, 0)).toThrow(RangeError);
  });
});
