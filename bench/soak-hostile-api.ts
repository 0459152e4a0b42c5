/**
 * Phase 4: hostile requests to the running service's `/v1`, one case at a
 * time: forged, expired and revoked tokens, tokens made with tokens, other
 * people's checkout ids, booking labels and `user=` filters (HIDE_HOLDERS off,
 * then on after a restart), oversized bodies, replayed and concurrent
 * Idempotency-Keys, and the rate limit. For each: the HTTP statuses and
 * whether they are what a correct service answers, whether the database
 * changed beyond what the case may change, whether the process survived, and
 * whether anything leaked (a token value in an answer, the database or the
 * service's log; another person's name or notes when hidden; cleanup output
 * to a non-admin).
 */
import type { Database } from "../src/db/client.js";
import type { Knobs, SoakEnv } from "./soak-env.js";
import type { ApiCase, Counts } from "./soak-hostile-api-case.js";
import { sleep } from "./soak-hostile-api-case.js";
import { OTHERS_CASES } from "./soak-hostile-api-others.js";
import { AFTER_WINDOW_CASE, REQUEST_CASES } from "./soak-hostile-api-requests.js";
import { TOKEN_CASES } from "./soak-hostile-api-tokens.js";
import { makeWorld, type ApiWorld } from "./soak-hostile-api-world.js";
import type { ServiceRig } from "./soak-service.js";
import { table } from "./stats.js";

/** One case's outcome, in one mode. */
export interface ApiResult {
  name: string;
  family: string;
  hidden: boolean;
  statuses: (number | string)[];
  /** Where the answers fell short: empty when they were what a correct service says. */
  misses: string[];
  /** What changed that the case may not change: "" when nothing did. */
  changed: string;
  crashed: boolean;
  leaks: string[];
  /** The case could not be prepared (its setup failed): counted as a failure of every property it would have shown. */
  setupFailed: string;
}

/** The figures phase 4 hands to the final summary. */
export interface ApiFigures {
  results: ApiResult[];
}

interface Footprint extends Counts {
  /** A digest of VM states, leases and bookings. */
  vms: string;
  events: number;
  outbox: number;
  keptTokens: number;
}

export async function runHostileApi(env: SoakEnv, _knobs: Knobs, rig: ServiceRig, print: (line: string) => void): Promise<ApiFigures> {
  if (!rig.running) await rig.startService();
  const world = await makeWorld(env.database, () => rig.url);
  const results: ApiResult[] = [];
  const run = async (cases: ApiCase[], hidden: boolean) => {
    for (const c of cases) if (!env.aborted()) results.push(await runCase(env.database, rig, world, c, hidden));
  };
  const first = [...REQUEST_CASES.filter((c) => c.family === "rate limit"), ...TOKEN_CASES, ...REQUEST_CASES.filter((c) => c.family !== "rate limit"), ...OTHERS_CASES];
  print(`${first.length + 1} cases with HIDE_HOLDERS off, then ${OTHERS_CASES.length} with it on; attackers are non-admins, each case its own person`);
  await run([...first, AFTER_WINDOW_CASE], false);
  if (!env.aborted()) {
    rig.settings.set("HIDE_HOLDERS", "true");
    await rig.stopService();
    await rig.startService();
    await run(OTHERS_CASES, true);
  }
  for (const line of perCase(results)) print(line);
  return { results };
}

async function footprint(database: Database): Promise<Footprint> {
  const { sql } = database;
  const [row] = await sql<Footprint[]>`
    select md5(concat((select string_agg(concat_ws(':', id, state, checkout_id), ',' order by id) from vms), '|',
                      (select string_agg(concat_ws(':', id, ends_at, ended_at), ',' order by id) from checkouts), '|',
                      (select string_agg(concat_ws(':', id, state, ends_at), ',' order by id) from reservations))) as vms,
           (select count(*) from checkouts)::int as checkouts,
           (select count(*) from reservations)::int as reservations,
           (select count(*) from people)::int as people,
           (select count(*) from api_tokens)::int as tokens,
           (select count(*) from api_tokens where revoked_at is not null)::int as revoked,
           (select count(*) from events where source::text not in ('worker', 'reconciler'))::int as events,
           (select count(*) from outbox where kind not in ('cleanup_blocked', 'vm_quarantined'))::int as outbox,
           (select count(*) from idempotency_keys where body::text ~ 'vmres_[A-Za-z0-9_-]{43}')::int as "keptTokens"`;
  if (!row) throw new Error("no footprint");
  return row;
}

const COUNTS = ["checkouts", "reservations", "people", "tokens", "revoked"] as const;

/** What changed beyond what the case may change. */
function unexpectedChanges(c: ApiCase, a: Footprint, b: Footprint): string {
  const parts: string[] = [];
  for (const key of COUNTS) {
    const delta = b[key] - a[key];
    const allowed = c.changes?.[key] ?? 0;
    const [min, max] = Array.isArray(allowed) ? allowed : [allowed, allowed];
    const sign = (x: number) => `${x >= 0 ? "+" : ""}${x}`;
    if (delta < min || delta > max) parts.push(`${key} ${sign(delta)} (expected ${min === max ? sign(min) : `${sign(min)} to ${sign(max)}`})`);
  }
  const acts = c.acts === true || Object.values(c.changes ?? {}).some((v) => (Array.isArray(v) ? v[1] !== 0 : v !== 0));
  if (!acts) {
    if (a.vms !== b.vms) parts.push("VMs, leases or bookings");
    if (a.events !== b.events) parts.push(`events +${b.events - a.events}`);
    if (a.outbox !== b.outbox) parts.push(`notices +${b.outbox - a.outbox}`);
  }
  return parts.join(", ");
}

async function runCase(database: Database, rig: ServiceRig, world: ApiWorld, c: ApiCase, hidden: boolean): Promise<ApiResult> {
  const result: ApiResult = { name: c.name, family: c.family, hidden, statuses: [], misses: [], changed: "", crashed: false, leaks: [], setupFailed: "" };
  let attack: Awaited<ReturnType<ApiCase["make"]>>;
  try {
    attack = await c.make(world, hidden);
  } catch (err) {
    result.setupFailed = err instanceof Error ? err.message : String(err);
    return result;
  }
  const logged: string[] = [];
  const unwatch = rig.watchLog((line) => logged.push(line));
  const before = await footprint(database);
  const out = await attack();
  // Whatever the requests set going (notices, a sweep) lands before the second reading.
  await sleep(300);
  const after = await footprint(database);
  unwatch();
  result.statuses = out.answers.map((a) => a.status);
  result.misses = out.misses;
  result.changed = unexpectedChanges(c, before, after);
  result.crashed = !(await answersHealth(rig));
  result.leaks = leaks(world, hidden, (out.scan ?? out.answers).map((a) => a.text).join("\n"), logged.join("\n"));
  if (after.keptTokens > before.keptTokens) result.leaks.push(`${after.keptTokens - before.keptTokens} token value(s) kept in idempotency_keys`);
  if (result.crashed) {
    if (rig.running) await rig.kill9();
    await rig.startService();
  }
  return result;
}

/** What of the forbidden came back: token values anywhere, cleanup output always, the victim's name and notes when hidden. */
function leaks(world: ApiWorld, hidden: boolean, answers: string, log: string): string[] {
  const found: string[] = [];
  for (const [value, whose] of world.secrets) {
    if (answers.includes(value)) found.push(`${whose} in an answer`);
    if (log.includes(value)) found.push(`${whose} in the service's log`);
  }
  if (answers.includes(world.quarantined.output)) found.push("cleanup output");
  if (hidden) {
    const v = world.victim;
    for (const [text, what] of [
      [v.name, "the holder's name"],
      [v.displayName, "the holder's display name"],
      [v.note, "the holder's checkout note"],
      [v.bookingNote, "the booking's note"],
    ] as const) {
      if (answers.includes(text)) found.push(what);
    }
  }
  return found;
}

/** The process still runs and answers GET /healthz (up to 10 s: a busy machine is not a crash). */
async function answersHealth(rig: ServiceRig): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (rig.running) {
    const ok = await fetch(`${rig.url}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
  return false;
}

function statusWords(statuses: (number | string)[]): string {
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(String(s), (counts.get(String(s)) ?? 0) + 1);
  return [...counts].map(([s, n]) => (n > 1 ? `${s}×${n}` : s)).join(" ");
}

/** PASS when every property held; else the properties that did not, with why. */
export function verdict(r: ApiResult): string {
  if (r.setupFailed) return `FAIL setup: ${r.setupFailed}`;
  const fails = [
    r.misses.length ? `answer: ${r.misses.join("; ")}` : "",
    r.changed ? `database: ${r.changed}` : "",
    r.crashed ? "CRASHED" : "",
    r.leaks.length ? `LEAKED ${r.leaks.join(", ")}` : "",
  ].filter(Boolean);
  return fails.length ? `FAIL ${fails.join(" | ")}` : "PASS";
}

function perCase(results: ApiResult[]): string[] {
  const rows = results.map((r) => [r.family, `${r.name.slice(0, 70)}${r.hidden ? " [hidden]" : ""}`, statusWords(r.statuses), verdict(r).slice(0, 240)]);
  return table([["family", "case", "HTTP", "verdict"], ...rows]);
}
