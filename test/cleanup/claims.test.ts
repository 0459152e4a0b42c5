import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RECONCILE_LOCK_KEY, reconcileCleanups } from "../../src/core/cleanup/reconcile-cleanups.js";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import { failCleanup } from "../../src/core/cleanup/fail-cleanup.js";
import { finishCleanupSuccess } from "../../src/core/cleanup/finish-cleanup-success.js";
import { quarantine } from "../../src/core/cleanup/quarantine.js";
import { recordFirstHostKey } from "../../src/core/cleanup/record-first-host-key.js";
import { removeVm } from "../../src/core/admin.js";
import type { Core } from "../../src/core/types.js";
import type postgres from "postgres";
import type { Database } from "../../src/db/client.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { addVmsFor, borrowAndReturnAll, eventsOf, operator, outboxOf, vmRow } from "./helpers.js";
import type { LabHost } from "../lab/lab.js";

/** Addresses from TEST-NET-3 that nothing here connects to: these tests exercise the claim protocol, not SSH. */
const unreachable = (n: number): LabHost[] =>
  Array.from({ length: n }, (_, i) => ({ ip: `203.0.113.${200 + i}`, port: 22, user: "root", hostKeyFingerprint: `SHA256:${"A".repeat(42)}${i % 10}` }) as unknown as LabHost);

describe("claiming and finishing cleanups in the database", () => {
  let database: Database;
  let core: Core;

  beforeEach(async () => {
    database = await freshDatabase();
    core = coreFor(database, { defaultQuota: 1000 });
  });
  afterEach(async () => {
    await database.close();
  });

  async function queued(pool: string, n: number): Promise<string[]> {
    await addVmsFor(core, pool, unreachable(n));
    return borrowAndReturnAll(core, pool);
  }

  const inTx = <T>(work: (tx: postgres.TransactionSql) => Promise<T>) => core.db.$client.begin(work);

  it("gives each due VM to exactly one of many workers claiming at the same moment", async () => {
    const names = await queued("busy", 20);
    const batches = await Promise.all(Array.from({ length: 10 }, (_, i) => claimDueCleanups(core.db.$client, `worker-${i}`, 3)));
    const claimed = batches.flat().map((c) => c.vm);
    expect(claimed.sort()).toEqual(names);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(await claimDueCleanups(core.db.$client, "late-worker", 5)).toEqual([]);
  });

  it("does not claim a VM whose retry is not due yet", async () => {
    const [name] = await queued("later", 1);
    await core.db.execute(sql`update vms set cleanup_next_at = now() + interval '1 hour' where name = ${name!}`);
    expect(await claimDueCleanups(core.db.$client, "w", 5)).toEqual([]);
  });

  it("carries the pool's cleanup settings and the VM's pinned key in the claim", async () => {
    const [name] = await queued("custom", 1);
    await core.db.execute(sql`update pools set cleanup_command = 'true', trust_on_first_use = true, ssh_private_key_file = '/keys/custom' where name = 'custom'`);
    const [claim] = await claimDueCleanups(core.db.$client, "w", 1);
    expect(claim).toMatchObject({
      vm: name,
      pool: "custom",
      ip: "203.0.113.200",
      sshPort: 22,
      sshUser: "root",
      hostKeyFingerprint: `SHA256:${"A".repeat(42)}0`,
      attempts: 0,
      cleanupCommand: "true",
      trustOnFirstUse: true,
      sshPrivateKeyFile: "/keys/custom",
      claimedBy: "w",
    });
  });

  it("returns a cleaned VM to the pool, on record, with no one notified", async () => {
    const [name] = await queued("ok", 1);
    const [claim] = await claimDueCleanups(core.db.$client, "w", 1);
    const outboxBefore = (await core.db.execute(sql`select count(*)::int as n from outbox`))[0]?.n;
    expect(await inTx((tx) => finishCleanupSuccess(tx, claim!, { report: null }))).toBe("available");
    expect(await vmRow(core.db, name!)).toMatchObject({ state: "available", claimed_by: null, cleanup_attempts: 0 });
    expect((await eventsOf(core.db, name!)).at(-1)).toMatchObject({ kind: "cleaned", source: "worker", actor: "system", detail: { to: "available", instance: "w" } });
    expect((await core.db.execute(sql`select count(*)::int as n from outbox`))[0]?.n).toBe(outboxBefore);
  });

  it("retires instead of returning a VM removed from the inventory while it was being cleaned", async () => {
    const [name] = await queued("gone", 1);
    const [claim] = await claimDueCleanups(core.db.$client, "w", 1);
    expect(await removeVm(core, operator, name!)).toMatchObject({ ok: true, value: { retired: "after_cleanup" } });
    expect(await inTx((tx) => finishCleanupSuccess(tx, claim!, {}))).toBe("retired");
    expect((await vmRow(core.db, name!)).state).toBe("retired");
  });

  it("writes nothing for a worker whose claim was taken back and given to another", async () => {
    const [name] = await queued("stale", 1);
    const [old] = await claimDueCleanups(core.db.$client, "dead-worker", 1);
    await core.db.execute(sql`update vms set claimed_at = claimed_at - interval '1 hour' where name = ${name!}`);
    expect((await reconcileCleanups(core.db.$client, 60_000)).claimsReset.map((r) => r.vm)).toEqual([name]);
    const [fresh] = await claimDueCleanups(core.db.$client, "live-worker", 1);

    expect(await inTx((tx) => finishCleanupSuccess(tx, old!, {}))).toBeNull();
    expect(await inTx((tx) => failCleanup(tx, old!, { error: "late", retryInMs: 0 }))).toBe(false);
    expect(await inTx((tx) => quarantine(tx, old!, { reason: "late", error: "late" }))).toBe(false);
    expect(await vmRow(core.db, name!)).toMatchObject({ state: "cleaning", claimed_by: "live-worker", cleanup_attempts: 0 });
    expect(await inTx((tx) => finishCleanupSuccess(tx, fresh!, {}))).toBe("available");
  });

  it("tells a process's old claim from its new claim of the same VM", async () => {
    const [name] = await queued("same", 1);
    const [first] = await claimDueCleanups(core.db.$client, "w", 1);
    await core.db.execute(sql`update vms set claimed_at = claimed_at - interval '1 hour' where name = ${name!}`);
    await reconcileCleanups(core.db.$client, 60_000);
    const [second] = await claimDueCleanups(core.db.$client, "w", 1);
    expect(second?.claimedAt).not.toBe(first?.claimedAt);
    expect(await inTx((tx) => finishCleanupSuccess(tx, first!, {}))).toBeNull();
    expect(await inTx((tx) => finishCleanupSuccess(tx, second!, {}))).toBe("available");
  });

  it("counts a failed attempt, keeps its error and makes the VM due after the backoff", async () => {
    const [name] = await queued("flaky", 1);
    const [claim] = await claimDueCleanups(core.db.$client, "w", 1);
    expect(await inTx((tx) => failCleanup(tx, claim!, { error: "could not connect: ECONNREFUSED", retryInMs: 3_600_000 }))).toBe(true);
    expect(await vmRow(core.db, name!)).toMatchObject({ state: "cleaning", claimed_by: null, cleanup_attempts: 1, cleanup_last_error: "could not connect: ECONNREFUSED" });
    const [due] = await core.db.execute<{ minutes: number }>(sql`select round(extract(epoch from cleanup_next_at - now()) / 60)::int as minutes from vms where name = ${name!}`);
    expect(due?.minutes).toBe(60);
    expect(await claimDueCleanups(core.db.$client, "w", 1)).toEqual([]);
  });

  it("quarantines with the last error and queues the admin alert with it", async () => {
    const [name] = await queued("broken", 1);
    const [claim] = await claimDueCleanups(core.db.$client, "w", 1);
    await inTx((tx) => quarantine(tx, claim!, { reason: "host key changed", error: "host key mismatch: …" }));
    expect(await vmRow(core.db, name!)).toMatchObject({ state: "quarantined", claimed_by: null, cleanup_attempts: 1, cleanup_last_error: "host key mismatch: …" });
    expect(await outboxOf(core.db, "vm_quarantined")).toEqual([
      { vm: name, pool: "broken", reason: "host key changed", lastError: "host key mismatch: …", attempts: 1 },
    ]);
    expect((await eventsOf(core.db, name!)).at(-1)).toMatchObject({ kind: "quarantined", source: "worker", detail: { reason: "host key changed" } });
  });

  it("pins the first host key seen only when none is pinned", async () => {
    const [name] = await queued("tofu", 1);
    await core.db.execute(sql`update vms set host_key_fingerprint = null where name = ${name!}`);
    const [claim] = await claimDueCleanups(core.db.$client, "w", 1);
    const first = `SHA256:${"B".repeat(43)}`;
    expect(await inTx((tx) => recordFirstHostKey(tx, claim!, first))).toBe(true);
    expect(await inTx((tx) => recordFirstHostKey(tx, claim!, `SHA256:${"C".repeat(43)}`))).toBe(false);
    expect((await vmRow(core.db, name!)).host_key_fingerprint).toBe(first);
  });

  it("makes stale claims due again and leaves live ones alone, on record as the reconciler", async () => {
    const [dead, live] = await queued("mixed", 2);
    await claimDueCleanups(core.db.$client, "w", 2);
    await core.db.execute(sql`update vms set claimed_at = claimed_at - interval '10 minutes' where name = ${dead!}`);
    const report = await reconcileCleanups(core.db.$client, 60_000);
    expect(report).toMatchObject({ ran: true, claimsReset: [{ vm: dead, claimedBy: "w" }], madeDue: [] });
    expect((await vmRow(core.db, dead!)).claimed_by).toBeNull();
    expect((await vmRow(core.db, live!)).claimed_by).toBe("w");
    expect((await eventsOf(core.db, dead!)).at(-1)).toMatchObject({ kind: "cleanup_claim_reset", source: "reconciler", actor: "system", detail: { claimedBy: "w" } });
    expect((await claimDueCleanups(core.db.$client, "w2", 5)).map((c) => c.vm)).toEqual([dead]);
  });

  it("makes a VM in cleaning that is due at no time due now", async () => {
    const [name] = await queued("orphan", 1);
    await core.db.execute(sql`update vms set cleanup_next_at = null where name = ${name!}`);
    expect(await claimDueCleanups(core.db.$client, "w", 1)).toEqual([]);
    expect((await reconcileCleanups(core.db.$client, 60_000)).madeDue).toEqual([name]);
    expect((await eventsOf(core.db, name!)).at(-1)).toMatchObject({ kind: "cleanup_made_due", source: "reconciler" });
    expect((await claimDueCleanups(core.db.$client, "w", 1)).map((c) => c.vm)).toEqual([name]);
  });

  it("lets only one replica reconcile at a time", async () => {
    const [name] = await queued("single", 1);
    await core.db.execute(sql`update vms set cleanup_next_at = null where name = ${name!}`);
    const other = await database.sql.reserve();
    try {
      await other`begin`;
      await other`select pg_advisory_xact_lock(${RECONCILE_LOCK_KEY})`;
      expect(await reconcileCleanups(core.db.$client, 60_000)).toEqual({ ran: false, claimsReset: [], madeDue: [] });
      await other`commit`;
    } finally {
      other.release();
    }
    expect(await reconcileCleanups(core.db.$client, 60_000)).toMatchObject({ ran: true, madeDue: [name] });
  });
});
