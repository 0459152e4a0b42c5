import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renewClaim, takeBackStaleClaims } from "../../src/core/claims.js";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import { addPerson } from "../../src/core/people.js";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { claimDueJobs, completeJob } from "../../src/core/provision/jobs.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Actor, Core } from "../../src/core/types.js";
import type { LabHost } from "../lab/lab.js";
import { addVmsFor, borrowAndReturnAll } from "../cleanup/helpers.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

// Issue 19 item 3: the cleanups' and the provider jobs' claims share one guard, one renewal and
// one takeover (src/core/claims.ts); these drive both queues through the same calls.

const operator: Actor = { person: "operator", source: "cli" };
/** An address from TEST-NET-3 that nothing here connects to: only the claims are exercised. */
const unreachable = [{ ip: "203.0.113.250", port: 22, user: "root", hostKeyFingerprint: `SHA256:${"A".repeat(43)}` }] as unknown as LabHost[];

let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database);
  expect((await addPerson(core, operator, { name: "bob", kind: "person", admin: false })).ok).toBe(true);
  const set = await setProvisioning(core, operator, "cloud", { provider: "command", image: "base", maxSize: 3, providerSettings: { command: "/bin/true" } }, () => null);
  expect(set.ok, JSON.stringify(set)).toBe(true);
});
afterAll(async () => database.close());

/** One claimed cleanup and one claimed provider job (a create bob asked for). */
async function claimOfEach() {
  await addVmsFor(core, "lab", unreachable);
  const [vm] = await borrowAndReturnAll(core, "lab");
  const asked = await checkoutFromPool(core, { person: { lookup: "bob" }, source: "api" }, { pool: "cloud" });
  expect(asked.ok && asked.value.kind).toBe("creating");
  const [cleanup] = await claimDueCleanups(core.db.$client, "worker-a", 1);
  const [job] = await claimDueJobs(core.db.$client, "worker-a", 1, "cloud");
  if (!cleanup || !job) throw new Error("expected a cleanup and a provider job to claim");
  expect(cleanup.vm).toBe(vm);
  return { cleanup, job };
}

const heldStamp = async (table: "vms" | "provider_jobs", id: number) =>
  (await core.db.$client<{ claimed_by: string | null; claimed_at: string | null }[]>`
    select claimed_by, claimed_at::text as claimed_at from ${core.db.$client(table)} where id = ${id}`)[0];

describe("the claims of cleanups and provider jobs", () => {
  it("are renewed alike, taken back only once stale, and a claim taken back renews no more", async () => {
    const { cleanup, job } = await claimOfEach();
    const sql = core.db.$client;

    // A live claim: renewed, and the holder's copy follows the row.
    expect(await renewClaim(sql, "cleanup", cleanup.vmId, cleanup)).toBe(true);
    expect(await renewClaim(sql, "provider", job.id, job)).toBe(true);
    expect(await heldStamp("vms", cleanup.vmId)).toEqual({ claimed_by: "worker-a", claimed_at: cleanup.claimedAt });
    expect(await heldStamp("provider_jobs", job.id)).toEqual({ claimed_by: "worker-a", claimed_at: job.claimedAt });

    // Not stale yet: nothing is taken back.
    expect(await takeBackStaleClaims(sql, "cleanup", 60_000)).toEqual([]);
    expect(await takeBackStaleClaims(sql, "provider", 60_000)).toEqual([]);

    // Stale at once (a zero timeout): each queue gives back its own row, named as logs name it.
    expect(await takeBackStaleClaims(sql, "cleanup", 0)).toEqual([{ id: cleanup.vmId, label: cleanup.vm, claimedBy: "worker-a", claimedAt: cleanup.claimedAt }]);
    expect(await takeBackStaleClaims(sql, "provider", 0)).toEqual([{ id: job.id, label: "create", claimedBy: "worker-a", claimedAt: job.claimedAt }]);
    expect(await heldStamp("vms", cleanup.vmId)).toEqual({ claimed_by: null, claimed_at: null });

    // The dead holder's renewal writes nothing, and another process can claim both again.
    expect(await renewClaim(sql, "cleanup", cleanup.vmId, cleanup)).toBe(false);
    expect(await renewClaim(sql, "provider", job.id, job)).toBe(false);
    expect(await heldStamp("provider_jobs", job.id)).toEqual({ claimed_by: null, claimed_at: null });
    expect((await claimDueCleanups(sql, "worker-b", 1)).map((c) => c.vmId)).toEqual([cleanup.vmId]);
    const [again] = await claimDueJobs(sql, "worker-b", 1, "cloud");
    expect(again?.id).toBe(job.id);

    // A job done under its claim is no longer claimed: its renewal matches no row.
    expect(await sql.begin((tx) => completeJob(tx, again!))).toBe(true);
    expect(await renewClaim(sql, "provider", again!.id, again!)).toBe(false);
  });
});
