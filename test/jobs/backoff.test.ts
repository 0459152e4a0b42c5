import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../../src/jobs/backoff.js";

const backoff = { baseMs: 1000, maxMs: 60_000 };

describe("the delay before a retry", () => {
  it("doubles its ceiling with each failure, starting at the base", () => {
    const ceilings = [1, 2, 3, 4].map((failures) => retryDelayMs(failures, backoff, () => 0.999_999));
    expect(ceilings).toEqual([999, 1999, 3999, 7999]);
  });

  it("never exceeds the cap, however many failures", () => {
    expect(retryDelayMs(7, backoff, () => 0.999_999)).toBe(59_999);
    expect(retryDelayMs(10_000, backoff, () => 0.999_999)).toBe(59_999);
  });

  it("is spread over the whole range below the ceiling (full jitter)", () => {
    expect(retryDelayMs(3, backoff, () => 0)).toBe(0);
    expect(retryDelayMs(3, backoff, () => 0.5)).toBe(2000);
    const spread = new Set(Array.from({ length: 200 }, () => retryDelayMs(3, backoff)));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...spread)).toBeLessThan(4000);
    expect(spread.size).toBeGreaterThan(100);
  });

  it("is zero when the base is zero, even after many failures", () => {
    expect(retryDelayMs(5000, { baseMs: 0, maxMs: 60_000 })).toBe(0);
  });
});
