/**
 * Retries an assertion until it passes or the timeout runs out, then throws its last error. Use instead of
 * fixed sleeps for anything asynchronous (flushes, deliveries, service state).
 */
export async function expectEventually<T>(
  assertion: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (err) {
      if (Date.now() >= deadline) {
        throw err;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
