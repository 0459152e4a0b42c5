import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupBlockedBy } from "../../src/cleanup/private-keys.js";
import { cleanupPolicy } from "../../src/cleanup/settings.js";
import { addVm, removeVm, setPool } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { recordKeyFileChecks } from "../../src/core/cleanup/blocked-pools.js";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import { cleanupDone } from "../../src/core/cleanup/cleanup-done.js";
import { finishCleanup } from "../../src/core/cleanup/finish-cleanup.js";
import { keyFilesInUse } from "../../src/core/cleanup/key-files-in-use.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import { poolSummary } from "../../src/core/queries.js";
import { reserve } from "../../src/core/reservations.js";
import { syncInventory } from "../../src/core/sync.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { parseInventory } from "../../src/inventory/file.js";
import { eventsOf, outboxOf, testSettings, vmRow } from "../cleanup/helpers.js";
import { coreFor, freshDatabase, userId } from "../helpers/db.js";

const operator = { person: "operator", source: "cli" } as const;
const alice = { person: { slackUserId: userId(1) }, source: "slack" } as const;
const bob = { person: { slackUserId: userId(2) }, source: "slack" } as const;
const KEY = "/nowhere/id_ed25519";
const KEY_GONE = cleanupBlockedBy(`cannot read SSH private key file ${KEY}: ENOENT: no such file or directory`);

let database: Database;
let core: Core;

async function addVms(pool: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const added = await addVm(core, operator, { name: `${pool}-${i}`, ip: `198.51.100.${i + 1}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
    expect(added.ok).toBe(true);
  }
}

/** Checks a VM of the pool out to alice and back in; returns its name. */
async function borrowAndReturn(pool: string): Promise<string> {
  const taken = await checkoutFromPool(core, alice, { pool });
  if (!taken.ok || taken.value.kind !== "ready") throw new Error(`no VM in ${pool}: ${JSON.stringify(taken)}`);
  const back = await checkin(core, alice, taken.value.vm.name);
  if (!back.ok) throw new Error(JSON.stringify(back.refusal));
  return taken.value.vm.name;
}

const poolOf = async (name: string) => (await poolSummary(core.db)).find((p) => p.pool === name);

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database, { defaultQuota: 10 });
  await addVms("trial", 2);
  await addVms("lab", 3);
  await addVms("keyless", 2);
});
afterAll(async () => database.close());

describe("a pool with no cleanup", () => {
  it("returns a checked-in VM to available at once, on record as a skipped cleanup", async () => {
    const set = await setPool(core, operator, "trial", { cleanup: "none" });
    expect(set.ok && set.value.cleanup).toBe("none");
    const taken = await checkoutFromPool(core, alice, { pool: "trial" });
    if (!taken.ok || taken.value.kind !== "ready") throw new Error("no VM");
    const vm = taken.value.vm.name;
    const back = await checkin(core, alice, vm);
    expect(back.ok && back.value.nextState).toBe("available");
    expect((await vmRow(core.db, vm)).state).toBe("available");
    const events = await eventsOf(core.db, vm);
    expect(events.slice(-2).map((e) => e.kind)).toEqual(["checked_in", "cleanup_skipped"]);
    expect(events.at(-1)?.detail).toMatchObject({ pool: "trial", setting: "cleanup: none" });
    const dm = (await outboxOf(core.db, "vm_checked_in")).at(-1);
    expect(dm).toMatchObject({ vm, nextState: "available" });
    // Nothing is queued for the worker: no claim would ever be made for it.
    expect(await claimDueCleanups(core.db.$client, "test:1", 10)).toEqual([]);
  });

  it("lends the same VM again after three check-ins of a two-VM pool (the trial pool does not die)", async () => {
    for (let i = 0; i < 3; i++) await borrowAndReturn("trial");
    expect((await poolOf("trial"))?.counts.available).toBe(2);
  });

  it("is shown in the pool listing, and back to ssh cleans again", async () => {
    expect(await poolOf("trial")).toMatchObject({ cleanup: "none", cleanupBlocked: null });
    const set = await setPool(core, operator, "trial", { cleanup: "ssh" });
    expect(set.ok && set.value.cleanup).toBe("ssh");
    const vm = await borrowAndReturn("trial");
    expect((await vmRow(core.db, vm)).state).toBe("cleaning");
    await cleanupDone(core, operator, vm, "test: back to available");
  });

  it("refuses an unknown cleanup word, saying what would be right, and changes nothing", async () => {
    const set = await setPool(core, operator, "trial", { cleanup: "never" });
    expect(set).toEqual({ ok: false, refusal: { code: "invalid_input", field: "cleanup", message: expect.stringContaining("use none (VMs come back at check-in) or ssh") } });
    expect((await poolOf("trial"))?.cleanup).toBe("ssh");
  });

  it("may not be set by someone who is not an admin", async () => {
    const set = await setPool(core, bob, "trial", { cleanup: "none" });
    expect(set.ok ? null : set.refusal.code).toBe("not_admin");
    expect((await poolOf("trial"))?.cleanup).toBe("ssh");
  });

  it("comes from vms.yml (cleanup: none) and a bad value there is named with what is allowed", async () => {
    const inventory = parseInventory("pools:\n  yaml-trial:\n    cleanup: none\n    vms:\n      - name: yt-1\n        ip: 203.0.113.31\n", "vms.yml", 1);
    expect(inventory.pools[0]).toMatchObject({ name: "yaml-trial", cleanup: "none" });
    // The sync of the whole file (a partial inventory would retire the other pools' VMs, so they are listed too).
    const synced = await syncInventory(core, operator, { pools: inventory.pools, vms: [...inventory.vms, ...(await everyVmSpec())] });
    expect(synced.ok).toBe(true);
    expect((await poolOf("yaml-trial"))?.cleanup).toBe("none");
    expect(() => parseInventory("pools:\n  p:\n    cleanup: never\n    vms: []\n", "vms.yml", 1)).toThrow(/pools\.p\.cleanup: use none \(no cleanup/);
    const ssh = parseInventory("pools:\n  p:\n    cleanup:\n      trust_on_first_use: true\n", "vms.yml", 1);
    expect(ssh.pools[0]).toMatchObject({ cleanup: "ssh", trustOnFirstUse: true });
  });

  it("needs no SSH key: the key files the cleanup checks at start leave such pools out", async () => {
    const files = await keyFilesInUse(core.db, KEY);
    expect(files).toEqual([KEY]);
    await core.db.execute(sql`update pools set cleanup = 'none'`);
    expect(await keyFilesInUse(core.db, KEY)).toEqual([]);
    await core.db.execute(sql`update pools set cleanup = 'ssh' where name <> 'yaml-trial'`);
  });
});

/** The VMs in the database now, as the inventory describes them (so a sync keeps them). */
async function everyVmSpec() {
  const rows = await core.db.execute<{ name: string; ip: string; pool: string }>(sql`select name, host(ip) as ip, pool from vms where state <> 'retired' and pool <> 'yaml-trial'`);
  return rows.map((r) => ({ name: r.name, ip: r.ip, pool: r.pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] as string[] }));
}

describe("ending a cleanup by hand", () => {
  it("returns a VM in cleaning to available, on record with who and why", async () => {
    const vm = await borrowAndReturn("lab");
    const done = await cleanupDone(core, operator, vm, "wiped /tmp by hand");
    expect(done).toEqual({ ok: true, value: { vm, to: "available", reason: "wiped /tmp by hand" } });
    expect(await vmRow(core.db, vm)).toMatchObject({ state: "available", cleanup_attempts: 0, cleanup_last_error: null, claimed_by: null });
    const last = (await eventsOf(core.db, vm)).at(-1);
    expect(last).toMatchObject({ kind: "cleanup_done_by_hand", actor: "operator", source: "cli", detail: { reason: "wiped /tmp by hand", to: "available" } });
  });

  it("refuses a VM that is not being cleaned, naming its state, and changes nothing", async () => {
    const before = await eventsOf(core.db, "lab-0");
    const done = await cleanupDone(core, operator, "lab-0", "why not");
    expect(done).toEqual({ ok: false, refusal: { code: "wrong_state", vm: "lab-0", state: "available", allowed: ["cleaning"] } });
    expect(await eventsOf(core.db, "lab-0")).toEqual(before);
  });

  it("refuses someone who is not an admin, a missing reason and an unknown VM", async () => {
    const vm = await borrowAndReturn("lab");
    expect(await cleanupDone(core, alice, vm, "mine anyway")).toEqual({ ok: false, refusal: { code: "not_admin", operation: "end a cleanup by hand" } });
    const blank = await cleanupDone(core, operator, vm, "  ");
    expect(blank.ok ? null : blank.refusal).toMatchObject({ code: "invalid_input", field: "reason" });
    expect(await cleanupDone(core, operator, "nope-1", "gone")).toEqual({ ok: false, refusal: { code: "unknown_vm", vm: "nope-1" } });
    expect((await vmRow(core.db, vm)).state).toBe("cleaning");
    await cleanupDone(core, operator, vm, "test: tidy up");
  });

  it("wins over a worker that had claimed the VM: the worker's late result writes nothing", async () => {
    const vm = await borrowAndReturn("lab");
    const [claim] = await claimDueCleanups(core.db.$client, "test:late", 10);
    expect(claim?.vm).toBe(vm);
    expect((await cleanupDone(core, operator, vm, "the worker hangs")).ok).toBe(true);
    const late = await finishCleanup(core.db.$client, claim!, { kind: "failed", error: "timed out" }, cleanupPolicy(testSettings(KEY)), { durationMs: 0, keyFile: KEY });
    expect(late.kind).toBe("claim_lost");
    expect((await vmRow(core.db, vm)).state).toBe("available");
  });

  it("retires a VM that was removed from the inventory while it was being cleaned", async () => {
    const vm = await borrowAndReturn("lab");
    expect((await removeVm(core, operator, vm)).ok).toBe(true);
    expect(await cleanupDone(core, operator, vm, "removed anyway")).toMatchObject({ ok: true, value: { to: "retired" } });
    expect((await vmRow(core.db, vm)).state).toBe("retired");
  });
});

describe("while a pool's cleanup is blocked", () => {
  it("says nothing at checkout while nothing blocks it", async () => {
    const taken = await checkoutFromPool(core, alice, { pool: "keyless" });
    expect(taken.ok && taken.value.kind === "ready" && taken.value.vm.cleanupBlocked).toBe(false);
    if (taken.ok && taken.value.kind === "ready") await checkin(core, alice, taken.value.vm.name);
  });

  it("is recorded on the pool when an attempt cannot use the key, and checkouts and bookings then warn", async () => {
    // The VM checked in above waits for its cleanup, which finds the key missing.
    const claims = (await claimDueCleanups(core.db.$client, "test:blocked", 10)).filter((c) => c.pool === "keyless");
    expect(claims).toHaveLength(1);
    const finished = await finishCleanup(core.db.$client, claims[0]!, { kind: "blocked", keyFile: KEY, error: KEY_GONE }, cleanupPolicy(testSettings(KEY)), { durationMs: 0, keyFile: KEY });
    expect(finished.kind).toBe("blocked");
    expect((await poolOf("keyless"))?.cleanupBlocked).toBe(KEY_GONE);

    const taken = await checkoutFromPool(core, alice, { pool: "keyless" });
    expect(taken.ok && taken.value.kind === "ready" && taken.value.vm.cleanupBlocked).toBe(true);
    const from = new Date(Date.now() + 86_400_000);
    const booked = await reserve(core, bob, { pool: "lab", count: 1, from, to: new Date(from.getTime() + 3_600_000), label: "not-blocked" });
    expect(booked.ok && booked.value.cleanupBlocked).toBe(false);
    const blocked = await reserve(core, bob, { pool: "keyless", count: 1, from, to: new Date(from.getTime() + 3_600_000), label: "blocked" });
    expect(blocked.ok && blocked.value.cleanupBlocked).toBe(true);
  });

  it("stops warning once the pool has no cleanup", async () => {
    await setPool(core, operator, "keyless", { cleanup: "none" });
    expect((await poolOf("keyless"))?.cleanupBlocked).toBeNull();
    const taken = await checkoutFromPool(core, bob, { pool: "lab" });
    expect(taken.ok && taken.value.kind === "ready" && taken.value.vm.cleanupBlocked).toBe(false);
    await setPool(core, operator, "keyless", { cleanup: "ssh" });
    expect((await poolOf("keyless"))?.cleanupBlocked).toBe(KEY_GONE);
  });

  it("follows what the cleanup finds when it reads the key files (at start and at each health check)", async () => {
    await recordKeyFileChecks(core.db.$client, KEY, [{ file: KEY, error: null }]);
    expect((await poolOf("keyless"))?.cleanupBlocked).toBeNull();
    await recordKeyFileChecks(core.db.$client, KEY, [{ file: KEY, error: KEY_GONE }]);
    expect((await poolOf("keyless"))?.cleanupBlocked).toBe(KEY_GONE);
    // A pool naming its own key file is not touched by the default file's check.
    await core.db.execute(sql`update pools set ssh_private_key_file = '/etc/vmres/lab' where name = 'lab'`);
    await recordKeyFileChecks(core.db.$client, KEY, [{ file: KEY, error: null }, { file: "/etc/vmres/lab", error: "cleanup blocked: lab key" }]);
    expect(await poolOf("lab")).toMatchObject({ cleanupBlocked: "cleanup blocked: lab key" });
    expect(await poolOf("keyless")).toMatchObject({ cleanupBlocked: null });
  });
});
