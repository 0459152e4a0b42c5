/**
 * Time in the person's zone for the calendar, with Intl only (no date library). The calendar's
 * x axis is real time: a day is from one midnight in the zone to the next, so a day across a DST
 * change has 23 or 25 hours, and a bar is as long as the booking really lasts. Civil dates are
 * "YYYY-MM-DD" strings; instants are milliseconds since the epoch.
 */

export const HOUR = 3_600_000;

/** A wall-clock reading in a zone. */
export interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const readers = new Map<string, Intl.DateTimeFormat>();

function reader(zone: string): Intl.DateTimeFormat {
  let found = readers.get(zone);
  if (!found) {
    found = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    readers.set(zone, found);
  }
  return found;
}

/** What a clock in `zone` shows at `instant`. */
export function wallOf(instant: number, zone: string): Wall & { second: number } {
  const parts: Record<string, number> = {};
  for (const p of reader(zone).formatToParts(instant)) if (p.type !== "literal") parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** The zone's offset from UTC at `instant`, in ms (positive east of Greenwich). */
export function offsetAt(instant: number, zone: string): number {
  const w = wallOf(instant, zone);
  const whole = Math.floor(instant / 1000) * 1000;
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole;
}

/**
 * The instant a clock in `zone` shows `wall`. Month and day may overflow (day 32 is the next
 * month's first). A wall time skipped by a DST change (02:30 on a spring-forward night) gives
 * the instant an hour later, as clocks read after the change.
 */
export function instantOf(wall: Wall, zone: string): number {
  const local = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const guess = local - offsetAt(local, zone);
  return local - offsetAt(guess, zone);
}

/** "YYYY-MM-DD" of `instant` in `zone`. */
export function dateOf(instant: number, zone: string): string {
  const w = wallOf(instant, zone);
  return civil(w.year, w.month, w.day);
}

function civil(year: number, month: number, day: number): string {
  return new Date(Date.UTC(year, month - 1, day)).toISOString().slice(0, 10);
}

function parseCivil(date: string): { year: number; month: number; day: number } {
  const [year, month, day] = date.split("-").map(Number);
  return { year: year!, month: month!, day: day! };
}

/** A civil date is "YYYY-MM-DD" naming a real day. */
export function isCivilDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const { year, month, day } = parseCivil(text);
  return civil(year, month, day) === text;
}

export function addDays(date: string, days: number): string {
  const { year, month, day } = parseCivil(date);
  return civil(year, month, day + days);
}

/** The Monday of the week holding `date`. */
export function mondayOf(date: string): string {
  const { year, month, day } = parseCivil(date);
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return addDays(date, -((weekday + 6) % 7));
}

/** The instant `date` begins in `zone` (its midnight, or the first minute after it if DST skips midnight). */
export function startOfDay(date: string, zone: string): number {
  return instantOf({ ...parseCivil(date), hour: 0, minute: 0 }, zone);
}

/** What the calendar shows: [start, end) in real time and its days. */
export interface CalendarWindow {
  view: "day" | "week";
  /** The first day shown. */
  first: string;
  start: number;
  end: number;
  /** Each day shown with the instants it begins and ends (23, 24 or 25 hours apart). */
  days: { date: string; start: number; end: number }[];
}

export function windowOf(view: "day" | "week", date: string, zone: string): CalendarWindow {
  const first = view === "day" ? date : mondayOf(date);
  const count = view === "day" ? 1 : 7;
  const days = Array.from({ length: count }, (_, i) => {
    const d = addDays(first, i);
    return { date: d, start: startOfDay(d, zone), end: startOfDay(addDays(d, 1), zone) };
  });
  return { view, first, start: days[0]!.start, end: days[count - 1]!.end, days };
}

/**
 * The hour marks of a window: every whole hour of the zone's clock that falls inside it, each
 * with the hour its clock shows (so a spring-forward day has no 02, an autumn day two 02s).
 */
export function hourMarks(window: CalendarWindow, zone: string): { at: number; hour: number }[] {
  const marks: { at: number; hour: number }[] = [];
  // Whole hours of the zone's clock are whole UTC hours shifted by the offset's minutes (zones
  // like +05:30); the offset is read at each mark so a change of it moves the marks with it.
  for (let at = window.start; at < window.end; ) {
    marks.push({ at, hour: wallOf(at, zone).hour });
    const next = at + HOUR;
    const w = wallOf(next, zone);
    at = next - w.minute * 60_000 - w.second * 1000;
    if (at <= marks[marks.length - 1]!.at) at = next;
  }
  return marks;
}

/** "YYYY-MM-DDTHH:MM", as an <input type="datetime-local"> holds it, for `instant` in `zone`. */
export function localInputValue(instant: number, zone: string): string {
  const w = wallOf(instant, zone);
  return `${civil(w.year, w.month, w.day)}T${String(w.hour).padStart(2, "0")}:${String(w.minute).padStart(2, "0")}`;
}

/** The instant a datetime-local value means in `zone`; null when it is not one. */
export function fromLocalInput(value: string, zone: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return null;
  return instantOf({ year, month, day, hour, minute }, zone);
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** A formatter for the zone, made once per zone and style. */
export function formatIn(zone: string, style: "time" | "day" | "dayShort" | "dateTime" | "title"): Intl.DateTimeFormat {
  const key = `${zone}\u0000${style}`;
  let found = formats.get(key);
  if (!found) {
    const options: Intl.DateTimeFormatOptions =
      style === "time"
        ? { hour: "2-digit", minute: "2-digit" }
        : style === "day"
          ? { weekday: "long", day: "numeric", month: "long", year: "numeric" }
          : style === "dayShort"
            ? { weekday: "short", day: "numeric", month: "short" }
            : style === "title"
              ? { day: "numeric", month: "long", year: "numeric" }
              : { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
    found = new Intl.DateTimeFormat(undefined, { timeZone: zone, ...options });
    formats.set(key, found);
  }
  return found;
}

/** A range said in the zone: "Mon 8 Dec, 14:00 – 16:00 CET" (the end's date only when it differs). */
export function rangeText(from: number, to: number, zone: string): string {
  const sameDay = dateOf(from, zone) === dateOf(to, zone);
  return `${formatIn(zone, "dateTime").format(from)} – ${sameDay ? formatIn(zone, "time").format(to) : formatIn(zone, "dateTime").format(to)}`;
}
