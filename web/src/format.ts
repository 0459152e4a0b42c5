import type { components } from "../../src/client/index.js";

export type Person = components["schemas"]["Person"];
export type VmState = components["schemas"]["VmState"];

/** Each state in people's words; a Record, so a new state in the API does not compile until it is named here. */
export const STATE_WORDS: Record<VmState, string> = {
  available: "free",
  checked_out: "checked out",
  held: "held for the queue",
  cleaning: "cleaning",
  quarantined: "quarantined",
  maintenance: "maintenance",
  retired: "retired",
};
export const VM_STATES = Object.keys(STATE_WORDS) as VmState[];

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A time in the person's zone, like "Mon 7 Dec, 17:30" (the zone's own rules, DST included); the year when not this one. */
export function when(iso: string | null, timeZone: string): string {
  if (iso === null) return "no end";
  const at = new Date(iso);
  const withYear = at.getFullYear() !== new Date().getFullYear();
  const key = `${timeZone}|${withYear}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, { timeZone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", ...(withYear ? { year: "numeric" } : {}) });
    formatters.set(key, f);
  }
  return f.format(at);
}

/** How a person is named on the page: their Slack display name, else their vmres name. */
export const personName = (p: Person): string => p.displayName ?? p.name;

/** A lease asked for, as the API takes it: empty means the pool's own. */
export const DURATION = /^(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?$/;
