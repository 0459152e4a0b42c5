import { describe, expect, it } from "vitest";
import { isRetryableDatabaseError } from "../../src/db/errors.js";

const pgError = (code: string, message = "") => Object.assign(new Error(message), { code });

describe("which database errors are worth a retry", () => {
  it("a lock timeout, a deadlock or a server restarting, also when drizzle wraps them", () => {
    expect(isRetryableDatabaseError(pgError("55P03"))).toBe(true);
    expect(isRetryableDatabaseError(pgError("40P01"))).toBe(true);
    expect(isRetryableDatabaseError(pgError("57P01"))).toBe(true);
    expect(isRetryableDatabaseError(new Error("Failed query: select …", { cause: pgError("55P03") }))).toBe(true);
    expect(isRetryableDatabaseError(pgError("57014", "canceling statement due to lock timeout"))).toBe(true);
  });

  it("not a constraint violation, a statement timeout or an error of ours", () => {
    expect(isRetryableDatabaseError(pgError("23514"))).toBe(false);
    expect(isRetryableDatabaseError(pgError("57014", "canceling statement due to statement timeout"))).toBe(false);
    expect(isRetryableDatabaseError(new TypeError("x is undefined"))).toBe(false);
    expect(isRetryableDatabaseError(null)).toBe(false);
  });
});
