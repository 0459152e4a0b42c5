import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { formatDuration, parseDuration } from "../src/duration.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("a duration as written in a setting", () => {
  it.each([
    ["30s", 30_000],
    ["90m", 90 * MIN],
    ["4h", 4 * HOUR],
    ["2d", 2 * DAY],
    ["1d12h", DAY + 12 * HOUR],
    ["1h30m", HOUR + 30 * MIN],
    ["1d2h3m4s", DAY + 2 * HOUR + 3 * MIN + 4000],
    ["1h0m", HOUR],
    ["0", 0],
    ["0s", 0],
    ["0m", 0],
  ])("reads %s as %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "1", "90", "1.5h", "1H", "1h 30m", " 1h", "30m1h", "1h1h", "-1h", "+1h", "1w", "90ms", "0h0m", "00m", "h", "1e3s", "99999999999999d"])(
    "refuses %j",
    (text) => {
      expect(parseDuration(text)).toBeNull();
    },
  );

  it("is written back in the same notation, largest units first", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(30_000)).toBe("30s");
    expect(formatDuration(90 * MIN)).toBe("1h30m");
    expect(formatDuration(DAY + 12 * HOUR)).toBe("1d12h");
    expect(formatDuration(2 * DAY)).toBe("2d");
    expect(formatDuration(HOUR + 999)).toBe("1h");
    for (const text of ["30s", "4h", "2d", "1d12h", "1d2h3m4s"]) expect(formatDuration(parseDuration(text) ?? -1)).toBe(text);
  });

  it("can be cut to its largest units, for ages in messages", () => {
    expect(formatDuration(2 * HOUR + 5 * MIN + 17_000, 2)).toBe("2h5m");
    expect(formatDuration(DAY + HOUR + 59 * MIN, 2)).toBe("1d1h");
    expect(formatDuration(DAY + 59 * MIN, 2)).toBe("1d");
    expect(formatDuration(45_000, 2)).toBe("45s");
  });

  it("refuses a negative or endless time", () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(Infinity)).toThrow(RangeError);
  });
});

describe("NOTICE_MAX_AGE", () => {
  it("is an hour unless set, and takes any duration, or 0 for never", () => {
    expect(loadConfig({}, null).NOTICE_MAX_AGE).toBe(HOUR);
    expect(loadConfig({ NOTICE_MAX_AGE: "1d12h" }, null).NOTICE_MAX_AGE).toBe(DAY + 12 * HOUR);
    expect(loadConfig({ NOTICE_MAX_AGE: " 90m " }, null).NOTICE_MAX_AGE).toBe(90 * MIN);
    expect(loadConfig({ NOTICE_MAX_AGE: "0" }, null).NOTICE_MAX_AGE).toBe(0);
  });

  it("stops start-up on a malformed value, naming the variable and the shape it expects", () => {
    expect(() => loadConfig({ NOTICE_MAX_AGE: "1 hour" }, null)).toThrow(ConfigError);
    expect(() => loadConfig({ NOTICE_MAX_AGE: "1 hour" }, null)).toThrow(
      'NOTICE_MAX_AGE must be a duration like 90m, 4h, 2d or 1d12h (whole numbers, units d, h, m, s, largest first), or 0 to send notices however old, not "1 hour".',
    );
  });
});

describe("durations in messages are written as people write them", () => {
  it("the pool-exhausted alert says how often it may come as 1d, not 1440 minutes", async () => {
    const { poolExhaustedAlert } = await import("../src/slack/views/admin-alerts.js");
    const counts = { available: 0, checked_out: 2, cleaning: 0, maintenance: 0, quarantined: 0, retired: 0, held: 0 } as unknown as Parameters<typeof poolExhaustedAlert>[1];
    const text = JSON.stringify(poolExhaustedAlert("gpu", counts, 1440).blocks);
    expect(text).toContain("At most one such alert per pool every 1d.");
    expect(JSON.stringify(poolExhaustedAlert("gpu", counts, 90).blocks)).toContain("every 1h30m.");
  });
});
