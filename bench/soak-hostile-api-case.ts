/**
 * What an API hostile case is, and the small checks cases share. A case
 * prepares what it needs (not measured: tokens made, parents revoked, a
 * window waited out), then attacks; the runner measures the database around
 * the attack alone and scans what came back.
 */
import type { ApiAnswer, ApiWorld } from "./soak-hostile-api-world.js";

/** Counts the runner compares before and after an attack; a case names the changes it may make. */
export interface Counts {
  checkouts: number;
  reservations: number;
  people: number;
  tokens: number;
  revoked: number;
}

/** What an attack got back, and where it fell short of what a correct service does. */
export interface Attack {
  answers: ApiAnswer[];
  /** Expectations the answers did not meet, in words. */
  misses: string[];
  /** Answers to scan for leaks; default all. (A new token's own first answer carries its value, rightly.) */
  scan?: ApiAnswer[];
}

/** One hostile case. */
export interface ApiCase {
  name: string;
  family: string;
  /** Run a second time with HIDE_HOLDERS=true. */
  bothModes?: boolean;
  /**
   * The changes the attack may make (exact; a range as [min, max]); every
   * count not named must stay. Naming any also lets VM states, events and
   * notices change, as a checkout or a check-in does.
   */
  changes?: Partial<Record<keyof Counts, number | [number, number]>>;
  /** Lets VM states, events and notices change with no count changing (a check-in). */
  acts?: boolean;
  /** Prepares (not measured) and returns the attack. */
  make(world: ApiWorld, hidden: boolean): Promise<() => Promise<Attack>>;
}

/** The status, and the problem's code when there is one: "403 not_holder". */
export function said(a: ApiAnswer): string {
  const code = (a.json as { code?: unknown } | null)?.code;
  return `${a.status}${typeof code === "string" ? ` ${code}` : ""}`;
}

/** Records a miss unless the answer's status is one of `ok`. */
export function expectStatus(misses: string[], what: string, a: ApiAnswer, ...ok: number[]): boolean {
  if (typeof a.status === "number" && ok.includes(a.status)) return true;
  misses.push(`${what}: ${said(a)}, expected ${ok.join(" or ")}`);
  return false;
}

/** Records a miss unless every answer is a 401 that says how to authenticate, with `reason` when given. */
export function expectUnauthorized(misses: string[], answers: ApiAnswer[], reason?: string): void {
  for (const a of answers) {
    if (!expectStatus(misses, "answer", a, 401)) continue;
    if (!a.headers?.get("www-authenticate")?.startsWith("Bearer")) misses.push("401 without WWW-Authenticate: Bearer");
    const got = (a.json as { reason?: unknown } | null)?.reason;
    if (reason !== undefined && got !== reason) misses.push(`reason ${String(got)}, expected ${reason}`);
  }
}

/** A JSON answer that is an empty list. */
export const isEmptyList = (a: ApiAnswer): boolean => Array.isArray(a.json) && a.json.length === 0;

/** Under HIDE_HOLDERS, a filter on someone else is refused or answers nothing. */
export function expectNothingOfOthers(misses: string[], what: string, a: ApiAnswer): void {
  if (a.status === 403 || a.status === 404 || (a.status === 200 && isEmptyList(a))) return;
  const n = Array.isArray(a.json) ? a.json.length : "?";
  misses.push(`${what}: ${said(a)} with ${n} entries of someone else's, expected 403/404 or an empty list`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (polling every 100 ms), up to `timeoutMs`; false if it never did. */
export async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

export const randomKey = (): string => `soak-${crypto.randomUUID()}`;
