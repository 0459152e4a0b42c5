import { backoffDelayMs } from "../core/backoff.js";

/**
 * Exponential backoff with equal jitter (src/core/backoff.ts) counted from attempt 0: between half
 * and all of base·2^attempt, capped at max. Kept under this name for the outbox dispatcher, which
 * the one job runner (issue 19 item 5) replaces; new code calls backoffDelayMs.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return backoffDelayMs(attempt + 1, { baseMs, maxMs, jitter: "equal" }, random);
}
