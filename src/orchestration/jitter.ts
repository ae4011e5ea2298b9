/**
 * Prefect's clamped Poisson interval (`utilities/collections.clamped_poisson_interval`): an exponentially
 * distributed interval around `average`, clamped to [average·lowerMultiple, average·(1+clampingFactor)].
 * `random` returns a uniform [0, 1) number (injectable for tests).
 */
export function exponentialCdf(x: number, average: number): number {
  return 1 - Math.exp(-x / average);
}

export function lowerClampMultiple(k: number): number {
  if (k >= 50) {
    return 0;
  }
  return Math.log2(Math.max(2 ** k / (2 ** k - 1), 1e-10));
}

export function poissonInterval(
  average: number,
  lower = 0,
  upper = 1,
  random: () => number = Math.random,
): number {
  const u = lower + (upper - lower) * random();
  return -Math.log(Math.max(1 - u, 1e-10)) * average;
}

export function clampedPoissonInterval(
  average: number,
  clampingFactor = 0.3,
  random: () => number = Math.random,
): number {
  if (clampingFactor <= 0) {
    throw new RangeError('`clamping_factor` must be >= 0.');
  }
  const upperMultiple = 1 + clampingFactor;
  const upperBound = average * upperMultiple;
  const lowerBound = Math.max(0, average * lowerClampMultiple(upperMultiple));
  return poissonInterval(
    average,
    exponentialCdf(lowerBound, average),
    exponentialCdf(upperBound, average),
    random,
  );
}
