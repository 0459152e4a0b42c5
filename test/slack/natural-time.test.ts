import { describe, expect, it } from "vitest";
import { parseNaturalRange, parseNaturalTime, wallTimeToInstant, zoneOffsetMinutes } from "../../src/slack/natural-time.js";

/** Natural dates in the person's zone, and the DST rules: the wall clock is what people mean. */
describe("natural times in a person's time zone", () => {
  it('"mon 9:00" in Europe/Berlin the day after summer time begins is 9:00 local (07:00 UTC)', () => {
    // Summer time began on Sunday 2027-03-28 at 02:00 local; it is Sunday noon.
    const now = new Date("2027-03-28T10:00:00Z");
    const r = parseNaturalTime("mon 9:00", "Europe/Berlin", now);
    expect(r).toEqual({ ok: true, at: new Date("2027-03-29T07:00:00Z") });
  });

  it('"mon 9:00" read on the Saturday before the change is still 9:00 local after it', () => {
    const r = parseNaturalTime("mon 9:00", "Europe/Berlin", new Date("2027-03-27T12:00:00Z"));
    expect(r).toEqual({ ok: true, at: new Date("2027-03-29T07:00:00Z") });
  });

  it('"mon 9:00" the day after summer time ends is 9:00 local (08:00 UTC)', () => {
    const r = parseNaturalTime("mon 9:00", "Europe/Berlin", new Date("2027-10-31T12:00:00Z"));
    expect(r).toEqual({ ok: true, at: new Date("2027-11-01T08:00:00Z") });
  });

  it("a range across the change is as long as the wall clocks say: 00:00 to 06:00 on the night summer time ends is 7 hours", () => {
    const r = parseNaturalRange("2027-10-31 00:00", "2027-10-31 06:00", "Europe/Berlin", new Date("2027-10-20T12:00:00Z"));
    expect(r.ok && (r.to.getTime() - r.from.getTime()) / 3_600_000).toBe(7);
    // And on the night it begins, 00:00 to 06:00 is 5 hours.
    const s = parseNaturalRange("2027-03-28 00:00", "2027-03-28 06:00", "Europe/Berlin", new Date("2027-03-20T12:00:00Z"));
    expect(s.ok && (s.to.getTime() - s.from.getTime()) / 3_600_000).toBe(5);
  });

  it("reads other zones and words: tomorrow, a date, an end earlier in the day than the start is the next day", () => {
    expect(parseNaturalTime("tomorrow 14:00", "America/New_York", new Date("2027-01-10T15:00:00Z"))).toEqual({ ok: true, at: new Date("2027-01-11T19:00:00Z") });
    expect(parseNaturalTime("2027-02-01 09:30", "Asia/Kolkata", new Date("2027-01-10T15:00:00Z"))).toEqual({ ok: true, at: new Date("2027-02-01T04:00:00Z") });
    const night = parseNaturalRange("fri 22:00", "6:00", "UTC", new Date("2027-01-11T12:00:00Z"));
    expect(night).toEqual({ ok: true, from: new Date("2027-01-15T22:00:00Z"), to: new Date("2027-01-16T06:00:00Z") });
  });

  it("refuses what is not wholly a time, saying how to write one", () => {
    for (const text of ["banana", "mon 9:00 banana", ""]) {
      const r = parseNaturalTime(text, "Europe/Berlin", new Date("2027-01-10T12:00:00Z"));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problem).toMatch(/mon 9:00.*Europe\/Berlin/);
    }
  });

  it("offsets and wall times agree with the zone's rules", () => {
    expect(zoneOffsetMinutes("Europe/Berlin", new Date("2027-01-10T12:00:00Z"))).toBe(60);
    expect(zoneOffsetMinutes("Europe/Berlin", new Date("2027-07-10T12:00:00Z"))).toBe(120);
    expect(wallTimeToInstant("Europe/Berlin", { year: 2027, month: 7, day: 10, hour: 9, minute: 0 })).toEqual(new Date("2027-07-10T07:00:00Z"));
  });
});
