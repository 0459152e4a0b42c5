/**
 * Phase 3: hostile inputs against the running service, one at a time. For
 * each: the HTTP status, whether the database changed (VMs, events, outbox,
 * pools, Slack message records; replays may change it once), whether the
 * process survived, and what the service said back: never "unexpected
 * error", and never a live mention or broadcast that came from the input.
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { checkout } from "../src/core/checkout.js";
import type { Core } from "../src/core/types.js";
import type { Database } from "../src/db/client.js";
import type { Knobs, SoakEnv } from "./soak-env.js";
import { addPool, sleep } from "./soak-env.js";
import { PAYLOAD_CASES, REPLAY_CASES } from "./soak-hostile-payloads.js";
import { inputText, liveMentions, sendRaw, type Answer, type HostileCase, type HostileSetup } from "./soak-hostile-shots.js";
import { TRANSPORT_CASES } from "./soak-hostile-transport.js";
import { ADMIN, textOf, type ServiceRig } from "./soak-service.js";
import { table } from "./stats.js";

const POOL = "h1";
const REPLY_WAIT_MS = 3000;

/** One input's outcome. */
export interface HostileResult {
  name: string;
  category: string;
  statuses: (number | string)[];
  replied: boolean;
  /** What changed in the database: "" when nothing did. */
  changed: string;
  /** Replays only: events added (1 = acted once). */
  events: number;
  replay: boolean;
  keysAdded: number;
  crashed: boolean;
  unexpectedError: boolean;
  mentionsEchoed: string[];
  said: string;
}

/** The figures phase 3 hands to the final summary. */
export interface HostileFigures {
  results: HostileResult[];
  inputs: number;
  changedState: number;
  replaysActedOnce: number;
  replaysActedMoreThanOnce: number;
  crashed: number;
  unexpectedReplies: number;
  mentionLeaks: number;
}

export async function runHostile(env: SoakEnv, _knobs: Knobs, rig: ServiceRig, print: (line: string) => void): Promise<HostileFigures> {
  if (!rig.running) await rig.startService();
  const setup = await prepare(env.database, rig);
  const cases = [...TRANSPORT_CASES, ...PAYLOAD_CASES, ...REPLAY_CASES];
  print(`${cases.length} hostile inputs, one at a time, from ${setup.attacker} (no VM) against ${setup.victim.user} (holds ${setup.victim.vm}) in pool ${POOL}`);
  const results: HostileResult[] = [];
  for (const c of cases) {
    if (env.aborted()) break;
    const result = await runCase(env.database, rig, c, setup);
    results.push(result);
    if (result.crashed) {
      print(`  the service ${rig.running ? "stopped answering /healthz" : "died"} after "${c.name}"; its last words:`);
      for (const line of rig.lastLines(12)) print(`    ${line.slice(0, 400)}`);
      if (rig.running) await rig.kill9();
      await rig.startService();
    }
  }
  const figures: HostileFigures = {
    results,
    inputs: results.length,
    changedState: results.filter((r) => r.changed !== "" && !r.replay).length + results.filter((r) => r.replay && r.events > 1).length,
    replaysActedOnce: results.filter((r) => r.replay && r.events === 1).length,
    replaysActedMoreThanOnce: results.filter((r) => r.replay && r.events > 1).length,
    crashed: results.filter((r) => r.crashed).length,
    unexpectedReplies: results.filter((r) => r.unexpectedError).length,
    mentionLeaks: results.filter((r) => r.mentionsEchoed.length > 0).length,
  };
  for (const line of [...perCase(results), ...perCategory(results)]) print(line);
  return figures;
}

/** The victim's checkout and the click replay's, made through the core, and the outbox let drain. */
async function prepare(database: Database, rig: ServiceRig): Promise<HostileSetup> {
  const names = await addPool(database, POOL, 1, 10);
  const core: Core = { db: database.db, people: new Map(), bootstrapAdmins: new Set([ADMIN]), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: POOL, defaultQuota: 1 };
  const lend = async (user: string) => {
    const r = await checkout(core, { person: { slackUserId: user }, source: "cli" }, { pool: POOL });
    if (!r.ok) throw new Error(`setup checkout for ${user} refused: ${r.refusal.code}`);
    return { user, vm: r.value.name, atMs: r.value.startedAt.getTime() };
  };
  const victim = await lend("U0VICTIM1");
  const clickReplay = await lend("U0REPLAY4");
  await outboxSettled(database, 0, 10_000);
  return {
    attacker: "U0MALLORY1",
    pool: POOL,
    victim,
    clickReplay,
    freeVm: names[names.length - 1] ?? "",
    replayUsers: ["U0REPLAY1", "U0REPLAY2", "U0REPLAY3", "U0REPLAY5", "U0REPLAY6"],
    responseUrl: () => rig.newResponseUrl(),
  };
}

/**
 * What requests can change. The cleanup worker's own writes are left out: the
 * soak runs without SSH keys, so every check-in (the replays', or phase 2's
 * left for the worker after a restart) makes the worker record a
 * `cleanup_blocked` event and alert; that is the environment, not an input.
 */
interface Footprint {
  vms: string;
  held: number;
  events: number;
  outbox: number;
  pools: number;
  messages: number;
  keys: number;
  outboxMax: number;
  eventMax: number;
  workerEvents: number;
}

const BACKGROUND_SOURCES = ["worker", "reconciler"];
const BACKGROUND_NOTICES = ["cleanup_blocked", "vm_quarantined"];

async function footprint(database: Database): Promise<Footprint> {
  const { sql } = database;
  const [row] = await sql<Footprint[]>`
    select (select md5(coalesce(string_agg(concat_ws(':', id, name, state, checkout_id, pool, ip, retire_on_checkin), ',' order by id), '')) from vms) as vms,
           (select count(*) from vms where checkout_id is not null)::int as held,
           (select count(*) from events where source::text not in ${sql(BACKGROUND_SOURCES)})::int as events,
           (select count(*) from events where source::text in ${sql(BACKGROUND_SOURCES)})::int as "workerEvents",
           (select count(*) from outbox where kind not in ${sql(BACKGROUND_NOTICES)})::int as outbox,
           (select count(*) from pools)::int as pools,
           (select count(*) from slack_messages)::int as messages,
           (select count(*) from processed_interactions)::int as keys,
           coalesce((select max(id) from outbox), 0)::int as "outboxMax",
           coalesce((select max(id) from events), 0)::int as "eventMax"`;
  if (!row) throw new Error("no footprint");
  return row;
}

async function difference(database: Database, a: Footprint, b: Footprint): Promise<string> {
  const parts: string[] = [];
  if (a.vms !== b.vms) parts.push(`vms (held ${a.held}→${b.held})`);
  if (a.events !== b.events) {
    const added = await database.sql<{ e: string }[]>`
      select kind || ' by ' || actor || coalesce(' on ' || vm_name, '') as e from events
      where id > ${a.eventMax} and source::text not in ${database.sql(BACKGROUND_SOURCES)} order by id`;
    parts.push(`events +${b.events - a.events} (${added.map((r) => r.e).join(", ")})`);
  }
  for (const key of ["outbox", "pools", "messages"] as const) if (a[key] !== b[key]) parts.push(`${key} ${a[key]}→${b[key]}`);
  return parts.join(", ");
}

/** Waits (up to `timeoutMs`) until every notice queued after `sinceId` is delivered, so a DM's record lands before the footprint. */
async function outboxSettled(database: Database, sinceId: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from outbox where id > ${sinceId} and delivered_at is null`;
    if ((row?.n ?? 0) === 0) return;
    await sleep(50);
  }
}

async function runCase(database: Database, rig: ServiceRig, c: HostileCase, setup: HostileSetup): Promise<HostileResult> {
  const before = await footprint(database);
  const callsBefore = rig.fake.calls().length;
  const shots = c.make(setup);
  const send = (shot: (typeof shots)[number]) => sendRaw(rig.url, shot.request);
  const answers: Answer[] = c.together ? await Promise.all(shots.map(send)) : [];
  if (!c.together) for (const shot of shots) answers.push(await send(shot));
  let replied = false;
  for (const [i, shot] of shots.entries()) {
    if (shot.responseId && answers[i]?.status === 200) replied = (await rig.replyTo(shot.responseId, REPLY_WAIT_MS)) !== null || replied;
  }
  await sleep(300);
  await outboxSettled(database, before.outboxMax, 5000);
  const after = await footprint(database);
  const alive = await answersHealth(rig);
  const said = rig.fake
    .calls()
    .slice(callsBefore)
    .map((call) => textOf(call.body))
    .join("\n");
  const input = shots.map((s) => inputText(s.request)).join("\n");
  return {
    name: c.name,
    category: c.category,
    statuses: answers.map((a) => a.status),
    replied,
    changed: await difference(database, before, after),
    events: after.events - before.events,
    replay: c.replay === true,
    keysAdded: after.keys - before.keys,
    crashed: !alive,
    unexpectedError: /unexpected error/i.test(said),
    mentionsEchoed: [...new Set(liveMentions(said).filter((m) => input.includes(m)))],
    said: said.replace(/\s+/g, " ").slice(0, 70),
  };
}

/** The process still runs and answers GET /healthz (given up to 10 s: a busy machine is not a crash). */
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

function perCase(results: HostileResult[]): string[] {
  const rows = results.map((r) => [
    r.category,
    r.name.slice(0, 64),
    statusWords(r.statuses),
    r.replay ? (r.events === 1 ? "acted once" : r.events === 0 ? `did not act${r.changed ? ` (${r.changed})` : ""}` : `ACTED ${r.events}×: ${r.changed}`) : r.changed ? `CHANGED: ${r.changed}` : "unchanged",
    r.keysAdded > 0 ? `+${r.keysAdded}` : "0",
    [r.crashed ? "CRASHED" : "", r.unexpectedError ? "UNEXPECTED ERROR" : "", r.mentionsEchoed.length ? `ECHOED ${r.mentionsEchoed.join(" ")}` : ""].filter(Boolean).join(", ") || "ok",
    r.replied ? r.said.slice(0, 60) : "(no reply)",
  ]);
  return table([["family", "input", "HTTP", "database", "keys", "process/reply", "first words back"], ...rows]);
}

function perCategory(results: HostileResult[]): string[] {
  const categories = [...new Set(results.map((r) => r.category))];
  const rows = categories.map((category) => {
    const rs = results.filter((r) => r.category === category);
    return [
      category,
      String(rs.length),
      statusWords(rs.flatMap((r) => r.statuses)),
      String(rs.filter((r) => (r.replay ? r.events > 1 : r.changed !== "")).length),
      String(rs.filter((r) => r.crashed).length),
      String(rs.filter((r) => r.unexpectedError).length),
      String(rs.filter((r) => r.mentionsEchoed.length > 0).length),
    ];
  });
  const total = ["total", String(results.length), "", ...[3, 4, 5, 6].map((i) => String(rows.reduce((n, r) => n + Number(r[i]), 0)))];
  return ["", ...table([["family", "inputs", "HTTP statuses", "changed state", "crashed", "'unexpected error'", "mentions echoed"], ...rows, total])];
}
