import fc from 'fast-check';
import { clampedPoissonInterval, roundHalfEven, tagLimitWaitSeconds } from './slot-wait';

describe('slot-wait', () => {
  describe(clampedPoissonInterval.name, () => {
    it('should stay within [0.75·mean, 1.3·mean] for any random draw', () => {
      fc.assert(
        fc.property(
          fc.double({ min: 0.01, max: 1000, noNaN: true }),
          fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
          (mean, u) => {
            const sut = clampedPoissonInterval(mean, 0.3, () => u);
            expect(sut).toBeGreaterThanOrEqual(mean * 0.75);
            expect(sut).toBeLessThanOrEqual(mean * 1.3 + 1e-9);
          },
        ),
      );
    });

    it('should map the lowest and highest draws to the clamp bounds', () => {
      expect(clampedPoissonInterval(10, 0.3, () => 0)).toBeCloseTo(7.52, 2);
      expect(clampedPoissonInterval(10, 0.3, () => 1)).toBeCloseTo(13, 6);
    });

    it('should average close to the mean', () => {
      let seed = 42;
      const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
      const n = 20000;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum += clampedPoissonInterval(10, 0.3, random);
      }
      expect(sum / n).toBeGreaterThan(9.5);
      expect(sum / n).toBeLessThan(10.5);
    });

    it('should give 0 for a zero mean instead of dividing by zero', () => {
      expect(clampedPoissonInterval(0)).toBe(0);
    });

    it('should refuse a non-positive clamping factor', () => {
      expect(() => clampedPoissonInterval(10, 0)).toThrow(RangeError);
    });
  });

  describe(roundHalfEven.name, () => {
    it('should round ties to even like Python', () => {
      expect([0.5, 1.5, 2.5, 3.5, 2.4, 2.6, 7.52].map(roundHalfEven)).toEqual([0, 2, 2, 4, 2, 3, 8]);
    });
  });

  describe(tagLimitWaitSeconds.name, () => {
    it('should use the occupancy average when below the slot wait setting', () => {
      expect(tagLimitWaitSeconds(2, 10, () => 1)).toBe(3); // 2 × 1.3 = 2.6 → 3
    });

    it('should cap the mean at the slot wait setting', () => {
      expect(tagLimitWaitSeconds(500, 10, () => 1)).toBe(13);
      expect(tagLimitWaitSeconds(500, 10, () => 0)).toBe(8);
    });

    it('should fall back to the slot wait setting without an average', () => {
      expect(tagLimitWaitSeconds(0, 10, () => 1)).toBe(13);
      expect(tagLimitWaitSeconds(null, 10, () => 1)).toBe(13);
    });
  });
});
