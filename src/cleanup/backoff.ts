/**
 * How long to wait before the next attempt after `failures` failed ones:
 * exponential (base × 2^(failures−1)), capped, with full jitter (uniform in
 * [0, that]). The jitter spreads the retries of many VMs that failed together
 * (a network outage, a pool-wide key problem) instead of retrying them in step.
 */
export function retryDelayMs(failures: number, backoff: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  // Bounded so 2^exponent stays finite (0 × Infinity would be NaN); the cap is reached long before.
  const exponent = Math.min(Math.max(0, failures - 1), 40);
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
