import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { backoffDelayMs, type Backoff } from "../../src/core/backoff.js";

const full: Backoff = { baseMs: 1000, maxMs: 60_000, jitter: "full" };
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("the delay before a retry", () => {
  it("doubles its ceiling with each failure, starting at the base", () => {
    const ceilings = [1, 2, 3, 4].map((failures) => backoffDelayMs(failures, full, () => 0.999_999));
    expect(ceilings).toEqual([999, 1999, 3999, 7999]);
    expect([1, 2, 3, 4].map((failures) => backoffDelayMs(failures, { ...full, jitter: "none" }))).toEqual([1000, 2000, 4000, 8000]);
  });

  it("never exceeds the cap, however many failures", () => {
    expect(backoffDelayMs(7, full, () => 0.999_999)).toBe(59_999);
    expect(backoffDelayMs(10_000, full, () => 0.999_999)).toBe(59_999);
    expect(backoffDelayMs(10_000, { ...full, jitter: "none" })).toBe(60_000);
    expect(backoffDelayMs(10_000, { ...full, jitter: "equal" }, () => 0.999_999)).toBe(60_000);
  });

  it("is spread over the whole range below the ceiling with full jitter", () => {
    expect(backoffDelayMs(3, full, () => 0)).toBe(0);
    expect(backoffDelayMs(3, full, () => 0.5)).toBe(2000);
    const spread = new Set(Array.from({ length: 200 }, () => backoffDelayMs(3, full)));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...spread)).toBeLessThan(4000);
    expect(spread.size).toBeGreaterThan(100);
  });

  it("is never below half the ceiling with equal jitter", () => {
    const equal: Backoff = { ...full, jitter: "equal" };
    expect(backoffDelayMs(3, equal, () => 0)).toBe(2000);
    expect(backoffDelayMs(3, equal, () => 0.5)).toBe(3000);
    const spread = Array.from({ length: 200 }, () => backoffDelayMs(3, equal));
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...spread)).toBeLessThanOrEqual(4000);
  });

  it("is zero when the base is zero, even after many failures", () => {
    for (const jitter of ["full", "equal", "none"] as const) expect(backoffDelayMs(5000, { baseMs: 0, maxMs: 60_000, jitter })).toBe(0);
  });

  it("is computed in one place: no other source in src/ doubles a delay itself", () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
      });
    // `… * 2 ** n` is a backoff; `2 ** 31 - 1` (a timer's limit) is not.
    const stray = files(join(root, "src"))
      .filter((f) => relative(root, f) !== "src/core/backoff.ts")
      .filter((f) => /\*\s*2\s*\*\*/.test(readFileSync(f, "utf8")))
      .map((f) => relative(root, f));
    expect(stray).toEqual([]);
  });
});
