/**
 * The wait a task run is told to take when a tag limit is full (docs/reference.md §4.4, upstream #21156): a Poisson
 * inter-arrival time around the mean, clamped to [≈0.75·mean, 1.3·mean] so clients spread out their retries
 * without waiting far longer than the mean.
 */

export type RandomSource = () => number;

function exponentialCdf(x: number, mean: number): number {
  return 1 - Math.exp(-x / mean);
}

/** For an upper clamp multiple `k`, the lower multiple with equal probability mass on both sides of the median. */
function lowerClampMultiple(k: number): number {
  if (k >= 50) {
    return 0;
  }
  return Math.log2(Math.max(2 ** k / (2 ** k - 1), 1e-10));
}

/** A Poisson interval with its uniform variate drawn from [lower, upper) (both in [0, 1]). */
function poissonInterval(mean: number, lower: number, upper: number, random: RandomSource): number {
  const u = lower + (upper - lower) * random();
  return -Math.log(Math.max(1 - u, 1e-10)) * mean;
}

/** Upstream's `clamped_poisson_interval`; a non-positive mean gives 0 (no division by zero, #22071). */
export function clampedPoissonInterval(
  mean: number,
  clampingFactor = 0.3,
  random: RandomSource = Math.random,
): number {
  if (clampingFactor <= 0) {
    throw new RangeError('clampingFactor must be > 0');
  }
  if (!(mean > 0)) {
    return 0;
  }
  const upperMultiple = 1 + clampingFactor;
  const upperBound = mean * upperMultiple;
  const lowerBound = Math.max(0, mean * lowerClampMultiple(upperMultiple));
  return poissonInterval(mean, exponentialCdf(lowerBound, mean), exponentialCdf(upperBound, mean), random);
}

/** Python's `round()`: to the nearest integer, ties to even. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) {
    return floor + 1;
  }
  if (diff < 0.5) {
    return floor;
  }
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Seconds to wait on a full v2 tag limit: the blocking limit's average slot occupancy, capped by (and
 * defaulting to) `PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS`, as a rounded clamped-Poisson interval.
 */
export function tagLimitWaitSeconds(
  avgSlotOccupancySeconds: number | null | undefined,
  slotWaitSeconds: number,
  random: RandomSource = Math.random,
): number {
  const mean = Math.min(avgSlotOccupancySeconds || slotWaitSeconds, slotWaitSeconds);
  return roundHalfEven(clampedPoissonInterval(mean, 0.3, random));
}
