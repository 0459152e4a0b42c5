import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm, drainVm, repairVm, setPool } from "../../src/core/admin.js";
import { checkout } from "../../src/core/checkout.js";
import { changeLease } from "../../src/core/leases.js";
import { parseNotice } from "../../src/core/notices.js";
import { queueLengths } from "../../src/core/queue-places.js";
import type { Core } from "../../src/core/types.js";
import { allVms } from "../../src/core/vm-listings.js";
import { joinQueue } from "../../src/core/waitlist.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import { addPoolVms, coreFor, freshDatabase, TestClock } from "../helpers/db.js";

/**
 * Lease and pool-setting rules that test/core/leases.test.ts leaves out, called in the process with
 * a TestClock: an extension without a length, what only admins may do with a lease, a pool's
 * settings (set, and given when the pool is made), and the queue counts and lease ends listings
 * report. The CLI's words for them stay in test/cli/leases.test.ts.
 */
const H = 3_600_000;
const D = 24 * H;
const operator = { person: "operator", source: "cli" } as const;
const as = (id: string) => ({ person: { slackUserId: id }, source: "cli" }) as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let clock: TestClock;
let core: Core;

beforeAll(async () => {
  database = await freshDatabase();
  clock = new TestClock();
  core = coreFor(database, { clock: clock.now });
});
afterAll(async () => database.close());

/** A pool like the CLI test's "short": 8h by default, at most 3d from a checkout's start; one VM checked out by `holder`. */
async function shortLease(pool: string, holder: string) {
  const [vm] = await addPoolVms(core, pool, 1);
  expect((await setPool(core, operator, pool, { leaseMs: 8 * H, maxLeaseMs: 3 * D })).ok).toBe(true);
  const r = await checkout(core, as(holder), { pool });
  if (!r.ok) throw new Error(`no checkout: ${JSON.stringify(r.refusal)}`);
  return { vm: vm!, startedAt: r.value.startedAt, endsAt: r.value.endsAt! };
}

async function lastEvent(vm: string) {
  const [row] = await database.sql<{ actor: string; kind: string }[]>`select actor, kind from events where vm_name = ${vm} order by id desc limit 1`;
  return row;
}

describe("changing a lease", () => {
  it("extends by the pool's own lease when no length is given, from the current end", async () => {
    const { vm, startedAt, endsAt } = await shortLease("lc-plain", "UBOB0001");
    expect(endsAt.getTime() - startedAt.getTime()).toBe(8 * H);
    const r = await changeLease(core, as("UBOB0001"), vm, { by: 2 * H });
    expect(r.ok && r.value.endsAt!.getTime() - startedAt.getTime()).toBe(10 * H);
    const plain = await changeLease(core, as("UBOB0001"), vm);
    expect(plain).toMatchObject({ ok: true, value: { byAdmin: false } });
    expect(plain.ok && plain.value.endsAt!.getTime() - startedAt.getTime()).toBe(18 * H);
    expect(plain.ok && plain.value.previousEndsAt!.getTime() - startedAt.getTime()).toBe(10 * H);
    expect(await lastEvent(vm)).toEqual({ actor: "UBOB0001", kind: "lease_extended" });
  });

  it("lets only admins set an end: the holder's --until is refused and changes nothing", async () => {
    const { vm, endsAt } = await shortLease("lc-until", "UBOB0002");
    const until = new Date(endsAt.getTime() + H);
    expect(await changeLease(core, as("UBOB0002"), vm, { until })).toMatchObject({ ok: false, refusal: { code: "not_admin", operation: "set or pin a lease" } });
    expect((await allVms(core, operator)).find((v) => v.name === vm)?.endsAt).toEqual(endsAt);
  });

  it("lets an admin set any end, past the pool's maximum, on record under their name, and tells the holder", async () => {
    const { vm, startedAt } = await shortLease("lc-admin", "UBOB0003");
    const until = new Date(startedAt.getTime() + 10 * D);
    const [{ last } = { last: 0 }] = await database.sql<{ last: number }[]>`select coalesce(max(id), 0)::int as last from outbox`;
    const r = await changeLease(core, as("UADMIN01"), vm, { until });
    expect(r).toMatchObject({ ok: true, value: { endsAt: until, byAdmin: true, holder: { name: "UBOB0003" } } });
    expect((await allVms(core, operator)).find((v) => v.name === vm)?.endsAt).toEqual(until);
    expect(await lastEvent(vm)).toEqual({ actor: "UADMIN01", kind: "lease_set" });
    const notices = (await database.sql<{ kind: string; payload: unknown }[]>`select kind, payload from outbox where id > ${last} order by id`).map((n) => parseNotice(n.kind, n.payload));
    expect(notices).toMatchObject([{ notice: { kind: "lease_changed", vm, endsAt: until.toISOString(), holder: { name: "UBOB0003" }, by: { name: "UADMIN01" } } }]);
  });

  it("lets an admin extend someone's lease past the maximum, which binds only the holder", async () => {
    const { vm, startedAt } = await shortLease("lc-behalf", "UBOB0004");
    expect(await changeLease(core, as("UBOB0004"), vm, { by: 3 * D })).toMatchObject({ ok: false, refusal: { code: "lease_too_long", maxMs: 3 * D } });
    const r = await changeLease(core, as("UADMIN01"), vm, { by: 3 * D });
    expect(r).toMatchObject({ ok: true, value: { byAdmin: true } });
    expect(r.ok && r.value.endsAt!.getTime() - startedAt.getTime()).toBe(8 * H + 3 * D);
  });
});

describe("a pool's settings", () => {
  it("pool set gives back every setting; the new lease and quota apply to the next checkouts", async () => {
    await addPoolVms(core, "lc-set", 3);
    const set = await setPool(core, operator, "lc-set", { leaseMs: 2 * H, maxLeaseMs: D, quota: 2 });
    expect(set).toEqual({ ok: true, value: { pool: "lc-set", quota: 2, leaseMs: 2 * H, maxLeaseMs: D, maxBookingAheadMs: null, maxBookingLengthMs: null, cleanup: "ssh" } });
    const first = await checkout(core, as("UKATE001"), { pool: "lc-set" });
    expect(first.ok && first.value.endsAt!.getTime() - first.value.startedAt.getTime()).toBe(2 * H);
    expect((await checkout(core, as("UKATE001"), { pool: "lc-set" })).ok).toBe(true);
    expect(await checkout(core, as("UKATE001"), { pool: "lc-set" })).toMatchObject({ ok: false, refusal: { code: "quota_reached", quota: 2 } });
    // Only what is given changes.
    expect(await setPool(core, operator, "lc-set", { quota: 1 })).toMatchObject({ ok: true, value: { quota: 1, leaseMs: 2 * H, maxLeaseMs: D } });
  });

  it("pool set refuses an unknown pool (naming the known ones), and a change that says nothing", async () => {
    const unknown = await setPool(core, operator, "lc-nope", { leaseMs: H });
    expect(unknown).toMatchObject({ ok: false, refusal: { code: "unknown_pool", pool: "lc-nope" } });
    expect(!unknown.ok && unknown.refusal.code === "unknown_pool" && unknown.refusal.known).toContain("lc-set");
    expect(await setPool(core, operator, "lc-set", {})).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "pool set" } });
    expect(await setPool(core, operator, "lc-set", { quota: 0 })).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "quota" } });
  });

  it("adding a VM to a new pool gives the pool the leases asked; an existing pool keeps its own", async () => {
    const spec = (name: string, n: number) => ({ name, ip: `198.51.100.${n}`, pool: "lc-fresh", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
    expect(await addVm(core, operator, spec("lc-fresh-1", 51), { leaseMs: 90 * 60_000, maxLeaseMs: 36 * H })).toMatchObject({ ok: true });
    expect(await addVm(core, operator, spec("lc-fresh-2", 52), { leaseMs: 5 * H })).toMatchObject({ ok: true });
    const [row] = await database.sql`select lease_seconds, max_lease_seconds from pools where name = 'lc-fresh'`;
    expect(row).toEqual({ lease_seconds: 5400, max_lease_seconds: 129_600 });
    const r = await checkout(core, as("UFRESH01"), { pool: "lc-fresh" });
    expect(r.ok && r.value.endsAt!.getTime() - r.value.startedAt.getTime()).toBe(90 * 60_000);
    // A lease over the maximum given with it is refused, and adds nothing.
    expect(await addVm(core, operator, { ...spec("lc-fresh-3", 53), pool: "lc-fresh2" }, { leaseMs: 2 * D, maxLeaseMs: D })).toMatchObject({ ok: false, refusal: { code: "invalid_input" } });
    expect(await database.sql`select 1 from pools where name = 'lc-fresh2'`).toHaveLength(0);
  });
});

describe("what the listings report", () => {
  it("counts each pool's queue, waiting and offered apart", async () => {
    const [vm] = await addPoolVms(core, "lc-queue", 1);
    expect((await drainVm(core, operator, vm!)).ok).toBe(true);
    for (const who of ["UQ000001", "UQ000002", "UQ000003"]) expect((await joinQueue(core, as(who), { pool: "lc-queue" })).ok).toBe(true);
    expect((await queueLengths(core)).find((q) => q.pool === "lc-queue")).toEqual({ pool: "lc-queue", waiting: 3, offered: 0 });
    expect((await repairVm(core, operator, vm!)).ok).toBe(true);
    await sweepLeases(core);
    expect((await queueLengths(core)).find((q) => q.pool === "lc-queue")).toEqual({ pool: "lc-queue", waiting: 2, offered: 1 });
  });

  it("gives each checkout's end, and none for a pinned lease", async () => {
    const { vm, endsAt } = await shortLease("lc-list", "UBOB0005");
    expect((await allVms(core, as("UBOB0005"))).find((v) => v.name === vm)).toMatchObject({ state: "checked_out", endsAt, holder: { name: "UBOB0005" } });
    expect((await changeLease(core, operator, vm, { pin: true })).ok).toBe(true);
    expect((await allVms(core, as("UBOB0005"))).find((v) => v.name === vm)).toMatchObject({ state: "checked_out", endsAt: null });
  });
});
