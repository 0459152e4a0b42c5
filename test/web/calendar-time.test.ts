import { describe, expect, it } from "vitest";
import { fromLocalInput, hourMarks, localInputValue, mondayOf, windowOf } from "../../web/src/calendar/time.js";

/** The calendar's zone math (web/src/calendar/time.ts), against instants known from the zones' rules. */
const HOUR = 3_600_000;
const utc = (text: string) => Date.parse(text);

describe("the calendar's days in a person's zone", () => {
  it("makes Berlin's spring-forward day 23 hours long, its clock skipping 02", () => {
    const day = windowOf("day", "2027-03-28", "Europe/Berlin");
    expect([day.start, day.end]).toEqual([utc("2027-03-27T23:00:00Z"), utc("2027-03-28T22:00:00Z")]);
    const marks = hourMarks(day, "Europe/Berlin").map((m) => m.hour);
    expect(marks).toHaveLength(23);
    expect(marks.slice(0, 4)).toEqual([0, 1, 3, 4]);
  });

  it("makes Berlin's fall-back day 25 hours long, its clock showing 02 twice", () => {
    const day = windowOf("day", "2027-10-31", "Europe/Berlin");
    expect((day.end - day.start) / HOUR).toBe(25);
    expect(hourMarks(day, "Europe/Berlin").map((m) => m.hour).slice(0, 5)).toEqual([0, 1, 2, 2, 3]);
  });

  it("puts a half-hour zone's hour marks on its own whole hours", () => {
    const day = windowOf("day", "2027-01-05", "Asia/Kolkata");
    expect(day.start).toBe(utc("2027-01-04T18:30:00Z"));
    const marks = hourMarks(day, "Asia/Kolkata");
    expect(marks).toHaveLength(24);
    expect(marks[10]).toEqual({ at: utc("2027-01-05T04:30:00Z"), hour: 10 });
  });

  it("starts a week on Monday and spans the DST change with 167 hours", () => {
    expect(mondayOf("2027-03-28")).toBe("2027-03-22");
    const week = windowOf("week", "2027-03-25", "Europe/Berlin");
    expect(week.days.map((d) => d.date)).toEqual(["2027-03-22", "2027-03-23", "2027-03-24", "2027-03-25", "2027-03-26", "2027-03-27", "2027-03-28"]);
    expect((week.end - week.start) / HOUR).toBe(167);
  });

  it("reads a form's wall time in the person's zone, whatever the browser's, and a time DST skips as the hour after", () => {
    expect(fromLocalInput("2027-03-28T06:00", "Europe/Berlin")).toBe(utc("2027-03-28T04:00:00Z"));
    expect(fromLocalInput("2027-03-28T02:30", "Europe/Berlin")).toBe(utc("2027-03-28T01:30:00Z"));
    expect(localInputValue(utc("2027-03-28T01:30:00Z"), "Europe/Berlin")).toBe("2027-03-28T03:30");
    expect(fromLocalInput("2027-13-01T00:00", "Europe/Berlin")).toBeNull();
    expect(fromLocalInput("", "Europe/Berlin")).toBeNull();
  });
});
