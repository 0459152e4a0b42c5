import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import { markPoolBlocked } from "../../src/core/cleanup/blocked-pools.js";
import { finishCleanup, type CleanupPolicy } from "../../src/core/cleanup/finish-cleanup.js";
import type { Core } from "../../src/core/types.js";
import type { LabHost } from "../lab/lab.js";
import { addVmsFor, borrowAndReturnAll } from "../cleanup/helpers.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

/*
 * Issue 18, cleanup row: what the worker adds per cleanup beyond SSH is its claim and its finish.
 * A cleanup that worked is finished in one statement, so one round trip: the VM back in its pool,
 * its pool's blocked mark cleared and the `cleaned` event, or, when the claim was lost, nothing.
 * Statements sent without waiting in between go out in the same event-loop turn; each round trip
 * takes at least one turn, so the turns the statements went out in count the round trips.
 */
const fingerprint = `SHA256:${"A".repeat(43)}`;
/** An address from TEST-NET-3 that nothing here connects to: only the finish is exercised. */
const unreachable = [{ ip: "203.0.113.251", port: 22, user: "root", hostKeyFingerprint: fingerprint }] as unknown as LabHost[];
const policy: CleanupPolicy = { maxAttempts: 3, retryDelayMs: () => 0, blockedRetryInMs: 60_000 };
const cleaned = { kind: "cleaned", report: { removed: 12, kept: 1, remaining: 0 }, seenFingerprint: fingerprint } as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;
let client: postgres.Sql;
let sent: { text: string; turn: number }[] = [];
let turn = 0;
let ticking = true;

function tick(): void {
  turn++;
  if (ticking) setImmediate(tick);
}

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
  core = coreFor(database);
  client = postgres(database.url, { max: 1, onnotice: () => {}, debug: (_c, text) => sent.push({ text, turn }) });
  // The pool's types as the service has them (timestamps and JSON passed as given): drizzle sets them on the pool.
  drizzle(client);
  await client`select 1`; // the connection's first query reads the array types first: not part of a finish
  setImmediate(tick);
  await addVmsFor(core, "finish", unreachable);
});
afterAll(async () => {
  ticking = false;
  await client.end({ timeout: 5 });
  await database.close();
});

/** The statements sent, grouped by the event-loop turn they went out in. */
function trips(): string[][] {
  const byTurn = new Map<number, string[]>();
  for (const s of sent) byTurn.set(s.turn, [...(byTurn.get(s.turn) ?? []), s.text.trim().split(/\s+/).slice(0, 2).join(" ")]);
  return [...byTurn.values()];
}

const vm = async () =>
  (await database.sql<{ state: string; claimed_by: string | null; attempts: number }[]>`
    select state, claimed_by, cleanup_attempts as attempts from vms where name = 'finish-0'`)[0];
const blocked = async () => (await database.sql<{ b: string | null }[]>`select cleanup_blocked as b from pools where name = 'finish'`)[0]?.b;
const cleanedEvents = async () =>
  database.sql<{ actor: string; source: string; detail: Record<string, unknown> }[]>`
    select actor, source::text, detail from events where kind = 'cleaned' and vm_name = 'finish-0' order by id`;

/** The VM checked out and in again (now `cleaning`, due), its pool marked blocked, and claimed by worker-a. */
async function claimed() {
  await borrowAndReturnAll(core, "finish");
  await markPoolBlocked(database.sql, "finish", "cleanup blocked: cannot read SSH private key file /k");
  const [claim] = await claimDueCleanups(database.sql, "worker-a", 1);
  if (!claim) throw new Error("expected a cleanup to claim");
  return claim;
}

describe("finishing a cleanup that worked", () => {
  it("frees the VM, clears its pool's blocked mark and records the cleaned event in one round trip", async () => {
    const claim = await claimed();
    sent = [];
    expect(await finishCleanup(client, claim, cleaned, policy, { durationMs: 42, keyFile: "/k" })).toEqual({ kind: "available" });
    expect(trips()).toEqual([["with freed"]]);
    expect(await vm()).toEqual({ state: "available", claimed_by: null, attempts: 0 });
    expect(await blocked()).toBeNull();
    expect(await cleanedEvents()).toEqual([
      {
        actor: "system",
        source: "worker",
        detail: { report: { removed: 12, kept: 1, remaining: 0 }, durationMs: 42, keyFile: "/k", attempt: 1, instance: "worker-a", to: "available" },
      },
    ]);
  });

  it("writes nothing when the claim was taken back meanwhile", async () => {
    const claim = await claimed();
    // The reconciler took the claim back and another worker claimed it again: a new claim time.
    await database.sql`update vms set claimed_by = 'worker-b', claimed_at = claimed_at + interval '1 second' where name = 'finish-0'`;
    expect(await finishCleanup(client, claim, cleaned, policy, { durationMs: 42, keyFile: "/k" })).toEqual({ kind: "claim_lost" });
    expect(await vm()).toEqual({ state: "cleaning", claimed_by: "worker-b", attempts: 0 });
    expect(await blocked()).not.toBeNull();
    expect(await cleanedEvents()).toHaveLength(1);
  });
});
