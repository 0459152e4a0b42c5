import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { drainVm, repairVm, setPool } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { claimDueCleanups } from "../../src/core/cleanup/claim-due-cleanups.js";
import { finishCleanupSuccess } from "../../src/core/cleanup/finish-cleanup-success.js";
import { changeLease, leaseRequestOf } from "../../src/core/leases.js";
import { relativeTime } from "../../src/duration.js";
import { parseNotice, type Notice } from "../../src/core/notices.js";
import { findVm } from "../../src/core/queries.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import type { Core } from "../../src/core/types.js";
import { joinQueue, leaveQueue, passOffer, queuesOf, takeOffer, waitOutcome } from "../../src/core/waitlist.js";
import { connect } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { coreFor, freshDatabase, liveWait, testLog, TestClock, addPoolVms } from "../helpers/db.js";

const H = 3_600_000;
const M = 60_000;
const operator = { person: "operator", source: "cli" } as const;
const as = (id: string) => ({ person: { slackUserId: id }, source: "slack" }) as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let clock: TestClock;
let core: Core;
const addPool = (pool: string, count: number) => addPoolVms(core, pool, count);

/** Notices queued since the last call, parsed with the one schema. */
let seenOutbox = 0;
async function newNotices(): Promise<Notice[]> {
  const rows = await database.db.execute<{ id: number; kind: string; payload: unknown }>(sql`select id, kind, payload from outbox where id > ${seenOutbox} order by id`);
  seenOutbox = Math.max(seenOutbox, ...rows.map((r) => Number(r.id)));
  return rows.map((r) => {
    const parsed = parseNotice(r.kind, r.payload);
    if ("problem" in parsed) throw new Error(parsed.problem);
    return parsed.notice;
  });
}

/** Cleans every VM waiting in `cleaning`, as a worker whose SSH cleanup worked would. */
async function cleanAll(): Promise<void> {
  const claims = await claimDueCleanups(database.db.$client, "test-worker", 100);
  for (const claim of claims) await database.db.$client.begin((tx) => finishCleanupSuccess(tx, claim, {}));
}

/** The VM's latest checkout, times as Dates. */
async function open(vm: string) {
  const [row] = await database.db.execute<{ ends_at: string | null; remind_at: string | null; ended_at: string | null; end_reason: string | null }>(sql`
    select c.ends_at, c.remind_at, c.ended_at, c.end_reason from checkouts c join vms v on v.id = c.vm_id where v.name = ${vm} order by c.id desc limit 1`);
  const date = (t: string | null | undefined) => (t ? new Date(t) : null);
  return { ends_at: date(row?.ends_at), remind_at: date(row?.remind_at), ended_at: date(row?.ended_at), end_reason: row?.end_reason ?? null };
}

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 30 });
});
afterAll(async () => database.close());
beforeEach(async () => {
  clock = new TestClock();
  core = coreFor(database, { clock: clock.now, defaultQuota: 2 });
  await newNotices();
});

describe("leases", () => {
  it("gives every checkout an end: the pool's lease, or what was asked, never past the pool's maximum", async () => {
    await addPool("lease-a", 3);
    const plain = await checkout(core, as("ULEASE01"), { pool: "lease-a" });
    expect(plain.ok && plain.value.endsAt!.getTime() - plain.value.startedAt.getTime()).toBe(8 * H);
    const short = await checkout(core, as("ULEASE02"), { pool: "lease-a", forMs: 4 * H });
    expect(short.ok && short.value.endsAt!.getTime() - short.value.startedAt.getTime()).toBe(4 * H);
    // The first reminder is an hour before the end.
    const row = await open(short.ok ? short.value.name : "");
    expect(row.remind_at!.getTime()).toBe(short.ok ? short.value.endsAt!.getTime() - H : 0);
    const tooLong = await checkout(core, as("ULEASE03"), { pool: "lease-a", forMs: 8 * 24 * H });
    expect(tooLong).toMatchObject({ ok: false, refusal: { code: "lease_too_long", pool: "lease-a", maxMs: 7 * 24 * H } });
    const bad = await checkout(core, as("ULEASE03"), { pool: "lease-a", forMs: 1000 });
    expect(bad).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "for" } });
    // Nothing was lent by the refusals.
    expect((await database.db.execute(sql`select 1 from checkouts c join people p on p.id = c.person_id where p.slack_user_id = 'ULEASE03'`)).length).toBe(0);
  });

  it("follows the pool's own lease and maximum (pool set); a default above the maximum is cut to it", async () => {
    await addPool("lease-b", 2);
    expect((await setPool(core, operator, "lease-b", { leaseMs: 2 * H, maxLeaseMs: 3 * H })).ok).toBe(true);
    const r = await checkout(core, as("ULEASE11"), { pool: "lease-b" });
    expect(r.ok && r.value.endsAt!.getTime() - r.value.startedAt.getTime()).toBe(2 * H);
    expect(await checkout(core, as("ULEASE12"), { pool: "lease-b", forMs: 4 * H })).toMatchObject({ ok: false, refusal: { code: "lease_too_long", maxMs: 3 * H } });
    // DEFAULT_LEASE above a pool's maximum is cut to it (lease-c2 sets only a maximum).
    await addPool("lease-c2", 1);
    expect((await setPool(core, operator, "lease-c2", { maxLeaseMs: 3 * H })).ok).toBe(true);
    const cut = await checkout(coreFor(database, { clock: clock.now, leases: { ...core.leases, defaultMs: 5 * H } }), as("ULEASE12"), { pool: "lease-c2" });
    expect(cut.ok && cut.value.endsAt!.getTime() - cut.value.startedAt.getTime()).toBe(3 * H);
    expect(await setPool(core, as("ULEASE12"), "lease-b", { quota: 3 })).toMatchObject({ ok: false, refusal: { code: "not_admin" } });
    // A pool's own lease above its maximum would be cut without anyone being told: refused.
    expect(await setPool(core, operator, "lease-b", { leaseMs: 4 * H })).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "lease" } });
    expect(await setPool(core, operator, "lease-b", { leaseMs: 4 * H, maxLeaseMs: 4 * H })).toMatchObject({ ok: true, value: { leaseMs: 4 * H, maxLeaseMs: 4 * H } });
  });

  it("extends from the current end, never past the maximum from the start; admins set any end or pin it, and the holder is told", async () => {
    const [vm] = await addPool("lease-c", 1);
    const r = await checkout(core, as("ULEASE21"), { pool: "lease-c", forMs: 2 * H });
    if (!r.ok) throw new Error("no checkout");
    const ext = await changeLease(core, as("ULEASE21"), vm!, { by: 3 * H });
    expect(ext.ok && ext.value.endsAt!.getTime()).toBe(r.value.endsAt!.getTime() + 3 * H);
    // The reminder moves with the end.
    expect((await open(vm!)).remind_at!.getTime()).toBe(r.value.endsAt!.getTime() + 2 * H);
    // A button made for an earlier checkout of the VM extends nothing.
    expect(await changeLease(core, as("ULEASE21"), vm!, { by: H }, { checkoutId: r.value.checkoutId - 1 })).toMatchObject({ ok: false, refusal: { code: "checkout_ended" } });
    const far = await changeLease(core, as("ULEASE21"), vm!, { by: 7 * 24 * H });
    expect(far).toMatchObject({ ok: false, refusal: { code: "lease_too_long", maxMs: 7 * 24 * H } });
    if (!far.ok && far.refusal.code === "lease_too_long") expect(far.refusal.latestEnd!.getTime()).toBe(r.value.startedAt.getTime() + 7 * 24 * H);
    expect(await changeLease(core, as("UOTHER01"), vm!, { by: H })).toMatchObject({ ok: false, refusal: { code: "not_holder" } });
    expect(await changeLease(core, as("ULEASE21"), vm!, { pin: true })).toMatchObject({ ok: false, refusal: { code: "not_admin" } });
    await newNotices();
    const pinned = await changeLease(core, as("UADMIN01"), vm!, { pin: true });
    expect(pinned).toMatchObject({ ok: true, value: { endsAt: null, byAdmin: true } });
    expect(await open(vm!)).toMatchObject({ ends_at: null, remind_at: null });
    expect(await newNotices()).toMatchObject([{ kind: "lease_changed", vm, endsAt: null, holder: { name: "ULEASE21" } }]);
    // A pinned lease has no end to extend.
    expect(await changeLease(core, as("ULEASE21"), vm!, { by: H })).toMatchObject({ ok: false, refusal: { code: "lease_not_extended" } });
    const until = new Date(clock.now().getTime() + 30 * M);
    expect(await changeLease(core, operator, vm!, { until })).toMatchObject({ ok: true, value: { endsAt: until } });
    expect(await changeLease(core, operator, vm!, { until: new Date(clock.now().getTime() - M) })).toMatchObject({ ok: false, refusal: { code: "invalid_input" } });
    const events = await database.db.execute<{ kind: string }>(sql`select kind from events where vm_name = ${vm!} order by id`);
    expect(events.map((e) => e.kind)).toEqual(["added", "checked_out", "lease_extended", "lease_set", "lease_set"]);
  });

  it("reminds at each lead once; a reminder due while vmres was down is sent once if the lease has not ended, never after", async () => {
    const [a, b] = await addPool("lease-d", 2);
    const ra = await checkout(core, as("ULEASE31"), { pool: "lease-d", forMs: 3 * H });
    const rb = await checkout(core, as("ULEASE32"), { pool: "lease-d", forMs: 3 * H });
    if (!ra.ok || !rb.ok) throw new Error("no checkout");
    await newNotices();
    // Other tests' checkouts share the database: look at this pool's notices only.
    const mine = async () => (await newNotices()).filter((n) => (n.kind === "vm_checked_in" || n.kind === "lease_expired" || n.kind === "lease_reminder") && [a, b].includes(n.vm));
    clock.advance(2 * H + M); // 59 min left
    await sweepLeases(core);
    const first = await mine();
    expect(first.map((n) => n.kind)).toEqual(["lease_reminder", "lease_reminder"]);
    expect(first[0]).toMatchObject({ vm: a, pool: "lease-d", extendByMs: 8 * H });
    await sweepLeases(core);
    expect(await mine()).toEqual([]);
    // Down from 59 min to 5 min before the end: the 10-minute reminder is sent once, not twice.
    clock.advance(54 * M);
    await sweepLeases(core);
    expect((await mine()).map((n) => n.kind)).toEqual(["lease_reminder", "lease_reminder"]);
    expect((await open(a!)).remind_at).toBeNull();
    // Extended: reminders start again for the new end.
    await changeLease(core, as("ULEASE31"), a!, { by: 2 * H });
    // b's lease ends while vmres is down, and a's next reminder falls due then too: only the expiry comes.
    clock.advance(10 * M + 15 * M + 1000);
    const report = await sweepLeases(core);
    expect(report.expired).toContain(b);
    expect(report.expired).not.toContain(a);
    expect((await mine()).map((n) => n.kind).sort()).toEqual(["lease_expired", "vm_checked_in"]);
    void rb;
  });

  it("sends a reminder once when two replicas sweep at the same moment", async () => {
    const vms = await addPool("lease-e", 20);
    for (const [i] of vms.entries()) expect((await checkout(core, as(`UREM${String(i).padStart(4, "0")}`), { pool: "lease-e", forMs: 2 * H })).ok).toBe(true);
    await newNotices();
    clock.advance(H + M);
    // A second replica: its own connections, its own core, the same clock.
    const other = connect(database.url, { lockTimeoutMs: 5000, poolSize: 10, log: testLog });
    try {
      const core2 = coreFor({ db: drizzle(other, { schema }) }, { clock: clock.now });
      const reports = await Promise.all([sweepLeases(core), sweepLeases(core2), sweepLeases(core), sweepLeases(core2)]);
      expect(reports.filter((r) => r.ran).length).toBeGreaterThanOrEqual(1);
      const reminders = (await newNotices()).filter((n) => n.kind === "lease_reminder");
      expect(reminders).toHaveLength(20);
      expect(new Set(reminders.map((n) => (n.kind === "lease_reminder" ? n.checkoutId : 0))).size).toBe(20);
    } finally {
      await other.end({ timeout: 5 });
    }
  });

  it("checks a VM in by itself after the end plus the grace, across a restart, as the system, and tells the holder", async () => {
    const [vm] = await addPool("lease-f", 1);
    const r = await checkout(core, as("ULEASE41"), { pool: "lease-f", forMs: H });
    if (!r.ok) throw new Error("no checkout");
    clock.advance(H + 14 * M);
    expect((await sweepLeases(core)).expired).toEqual([]);
    // "Restart": another process (connections, people cache) after the grace has passed.
    clock.advance(2 * M);
    const other = connect(database.url, { lockTimeoutMs: 5000, poolSize: 4, log: testLog });
    try {
      const restarted = coreFor({ db: drizzle(other, { schema }) }, { clock: clock.now });
      await newNotices();
      expect((await sweepLeases(restarted)).expired).toEqual([vm]);
    } finally {
      await other.end({ timeout: 5 });
    }
    const row = (await database.db.execute<{ end_reason: string; ended_by: string; state: string }>(sql`
      select c.end_reason, p.name as ended_by, v.state from checkouts c join people p on p.id = c.ended_by join vms v on v.id = c.vm_id where c.id = ${r.value.checkoutId}`))[0];
    expect(row).toEqual({ end_reason: "expired", ended_by: "system", state: "cleaning" });
    const notices = await newNotices();
    expect(notices).toContainEqual(expect.objectContaining({ kind: "lease_expired", vm, holder: expect.objectContaining({ slackUserId: "ULEASE41" }) }));
    expect(notices).toContainEqual(expect.objectContaining({ kind: "vm_checked_in", vm, endReason: "expired" }));
    // An extension after the automatic check-in is refused.
    expect(await changeLease(core, as("ULEASE41"), vm!, { by: H })).toMatchObject({ ok: false, refusal: { code: "not_checked_out", state: "cleaning" } });
  });

  it("an extension racing the expiry: each VM is either extended and still out, or expired and the extension refused", async () => {
    const vms = await addPool("lease-g", 16);
    for (const [i] of vms.entries()) expect((await checkout(core, as(`URACE${String(i).padStart(3, "0")}`), { pool: "lease-g", forMs: H })).ok).toBe(true);
    clock.advance(H + 15 * M + 1000);
    const [extensions] = await Promise.all([
      Promise.all(vms.map((vm, i) => changeLease(core, as(`URACE${String(i).padStart(3, "0")}`), vm, { by: H }))),
      sweepLeases(core),
    ]);
    await sweepLeases(core);
    for (const [i, vm] of vms.entries()) {
      const row = await open(vm);
      if (extensions[i]!.ok) expect(row).toMatchObject({ ended_at: null });
      else {
        expect(extensions[i]).toMatchObject({ ok: false, refusal: { code: "not_checked_out" } });
        expect(row.end_reason).toBe("expired");
      }
    }
    const states = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from vms where pool = 'lease-g' and state = 'checked_out'`);
    expect(states[0]!.n).toBe(extensions.filter((e) => e.ok).length);
  });

  it("says how far a time is in words", () => {
    const now = new Date("2026-12-01T10:00:00Z");
    expect(relativeTime(new Date("2026-12-01T13:20:00Z"), now)).toBe("in 3 h 20 min");
    expect(relativeTime(new Date("2026-12-01T09:58:00Z"), now)).toBe("2 min ago");
    expect(relativeTime(new Date("2026-12-02T22:00:00Z"), now)).toBe("in 1 d 12 h");
  });
});

describe("waitlist", () => {
  it("serves the queue first come, first served, with positions; a plain checkout does not jump it", async () => {
    const [vm] = await addPool("wait-a", 1);
    expect((await checkout(core, as("UWAIT001"), { pool: "wait-a" })).ok).toBe(true);
    const refused = await checkout(core, as("UWAIT002"), { pool: "wait-a" });
    expect(refused).toMatchObject({ ok: false, refusal: { code: "no_vm_free", waiting: 0 } });
    expect(await joinQueue(core, as("UWAIT002"), { pool: "wait-a" })).toMatchObject({ ok: true, value: { position: 1, already: false } });
    expect(await joinQueue(core, as("UWAIT003"), { pool: "wait-a" })).toMatchObject({ ok: true, value: { position: 2 } });
    // At most once in a pool's queue.
    expect(await joinQueue(core, as("UWAIT003"), { pool: "wait-a" })).toMatchObject({ ok: true, value: { position: 2, already: true } });
    expect((await checkin(core, as("UWAIT001"), vm!)).ok).toBe(true);
    await cleanAll();
    // Free, but the queue comes first: someone else's checkout is refused, naming the queue.
    expect(await checkout(core, as("UWAIT004"), { pool: "wait-a" })).toMatchObject({ ok: false, refusal: { code: "no_vm_free", waiting: 2 } });
    await newNotices();
    expect(await sweepLeases(core)).toMatchObject({ offered: 1 });
    const [offer] = await newNotices();
    expect(offer).toMatchObject({ kind: "vm_offered", vm, pool: "wait-a", person: { slackUserId: "UWAIT002" } });
    expect((await findVm(core, as("UWAIT003"), vm!))?.state).toBe("held");
    expect(await queuesOf(core, { slackUserId: "UWAIT003" })).toMatchObject({ ok: true, value: [{ pool: "wait-a", position: 2, state: "waiting" }] });
    // Only the waiter may take it.
    const waiterId = offer!.kind === "vm_offered" ? offer!.waiterId : 0;
    expect(await takeOffer(core, as("UWAIT003"), waiterId)).toMatchObject({ ok: false, refusal: { code: "not_your_offer" } });
    const taken = await takeOffer(core, as("UWAIT002"), waiterId);
    expect(taken).toMatchObject({ ok: true, value: { name: vm } });
    expect(await takeOffer(core, as("UWAIT002"), waiterId)).toMatchObject({ ok: false, refusal: { code: "offer_over" } });
    expect((await newNotices()).map((n) => n.kind)).toEqual(["vm_checked_out"]);
    expect(await queuesOf(core, { slackUserId: "UWAIT003" })).toMatchObject({ ok: true, value: [{ position: 1 }] });
  });

  it("passes the VM to the next waiter on Pass and when the claim window passes, even across a restart", async () => {
    const [vm] = await addPool("wait-b", 1);
    await drainVm(core, operator, vm!);
    for (const u of ["UPASS001", "UPASS002", "UPASS003"]) expect((await joinQueue(core, as(u), { pool: "wait-b" })).ok).toBe(true);
    await repairVm(core, operator, vm!);
    await sweepLeases(core);
    const first = (await newNotices()).find((n) => n.kind === "vm_offered");
    expect(first).toMatchObject({ person: { slackUserId: "UPASS001" } });
    expect(await passOffer(core, as("UPASS001"), first!.kind === "vm_offered" ? first!.waiterId : 0)).toMatchObject({ ok: true });
    await sweepLeases(core);
    const second = (await newNotices()).find((n) => n.kind === "vm_offered");
    expect(second).toMatchObject({ person: { slackUserId: "UPASS002" } });
    // The window passes while vmres is down; a new process sweeps.
    clock.advance(10 * M + 1000);
    const other = connect(database.url, { lockTimeoutMs: 5000, poolSize: 4, log: testLog });
    try {
      expect(await sweepLeases(coreFor({ db: drizzle(other, { schema }) }, { clock: clock.now }))).toMatchObject({ lapsed: 1, offered: 1 });
    } finally {
      await other.end({ timeout: 5 });
    }
    const notices = await newNotices();
    expect(notices).toContainEqual(expect.objectContaining({ kind: "offer_ended", outcome: "lapsed", person: expect.objectContaining({ slackUserId: "UPASS002" }) }));
    expect(notices).toContainEqual(expect.objectContaining({ kind: "vm_offered", person: expect.objectContaining({ slackUserId: "UPASS003" }) }));
    // The ones who passed or let it lapse have left the queue.
    expect(await queuesOf(core, { slackUserId: "UPASS001" })).toEqual({ ok: true, value: [] });
    expect(await queuesOf(core, { slackUserId: "UPASS002" })).toEqual({ ok: true, value: [] });
  });

  it("keeps a person in two queues at once, and leaving one keeps the other", async () => {
    const [x] = await addPool("wait-c", 1);
    const [y] = await addPool("wait-d", 1);
    await drainVm(core, operator, x!);
    await drainVm(core, operator, y!);
    expect((await joinQueue(core, as("UTWO0001"), { pool: "wait-c" })).ok).toBe(true);
    expect((await joinQueue(core, as("UTWO0002"), { pool: "wait-d" })).ok).toBe(true);
    expect((await joinQueue(core, as("UTWO0001"), { pool: "wait-d" })).ok).toBe(true);
    expect(await queuesOf(core, { slackUserId: "UTWO0001" })).toMatchObject({ ok: true, value: [{ pool: "wait-c", position: 1 }, { pool: "wait-d", position: 2 }] });
    expect(await leaveQueue(core, as("UTWO0001"), { pool: "wait-c" })).toEqual({ ok: true, value: { left: ["wait-c"] } });
    expect(await queuesOf(core, { slackUserId: "UTWO0001" })).toMatchObject({ ok: true, value: [{ pool: "wait-d", position: 2 }] });
    expect(await leaveQueue(core, as("UTWO0001"), { pool: "wait-c" })).toMatchObject({ ok: false, refusal: { code: "not_waiting" } });
    expect(await joinQueue(core, as("UTWO0001"), { pool: "nope" })).toMatchObject({ ok: false, refusal: { code: "unknown_pool" } });
    expect(await leaveQueue(core, as("UTWO0001"))).toEqual({ ok: true, value: { left: ["wait-d"] } });
  });

  it("withdraws the offer of a VM drained while held: the waiter keeps their place and is offered the next one", async () => {
    const [vm] = await addPool("wait-e", 1);
    await drainVm(core, operator, vm!);
    expect((await joinQueue(core, as("UDRAIN01"), { pool: "wait-e" })).ok).toBe(true);
    expect((await joinQueue(core, as("UDRAIN02"), { pool: "wait-e" })).ok).toBe(true);
    await repairVm(core, operator, vm!);
    await sweepLeases(core);
    const offer = (await newNotices()).find((n) => n.kind === "vm_offered");
    expect(await drainVm(core, operator, vm!)).toMatchObject({ ok: true, value: { from: "held", to: "maintenance" } });
    expect(await newNotices()).toContainEqual(expect.objectContaining({ kind: "offer_ended", outcome: "withdrawn", person: expect.objectContaining({ slackUserId: "UDRAIN01" }) }));
    expect(await takeOffer(core, as("UDRAIN01"), offer!.kind === "vm_offered" ? offer!.waiterId : 0)).toMatchObject({ ok: false, refusal: { code: "offer_over" } });
    expect(await queuesOf(core, { slackUserId: "UDRAIN01" })).toMatchObject({ ok: true, value: [{ pool: "wait-e", position: 1, state: "waiting" }] });
    const [next] = await addPool("wait-e", 1);
    await sweepLeases(core);
    expect(await newNotices()).toContainEqual(expect.objectContaining({ kind: "vm_offered", vm: next, person: expect.objectContaining({ slackUserId: "UDRAIN01" }) }));
  });

  it("gives a freed VM to the first in line even when several sweeps run at once (and waiting requests match too)", async () => {
    const other = connect(database.url, { lockTimeoutMs: 5000, poolSize: 6, log: testLog });
    try {
      const core2 = coreFor({ db: drizzle(other, { schema }) }, { clock: clock.now });
      for (let round = 0; round < 5; round++) {
        const pool = `fifo-${round}`;
        const [vm] = await addPool(pool, 1);
        await drainVm(core, operator, vm!);
        for (const u of [`UFIFO${round}A1`, `UFIFO${round}B1`, `UFIFO${round}C1`]) {
          const joined = await joinQueue(core, as(u), { pool, autoTake: true });
          if (!joined.ok) throw new Error(`not queued: ${JSON.stringify(joined.refusal)}`);
          await liveWait(core, joined.value.waiterId);
        }
        await repairVm(core, operator, vm!);
        await Promise.all([sweepLeases(core), sweepLeases(core2), sweepLeases(core), sweepLeases(core2), sweepLeases(core2)]);
        expect(await queuesOf(core, { slackUserId: `UFIFO${round}A1` })).toEqual({ ok: true, value: [] });
        expect(await queuesOf(core, { slackUserId: `UFIFO${round}B1` })).toMatchObject({ ok: true, value: [{ pool, position: 1 }] });
      }
    } finally {
      await other.end({ timeout: 5 });
    }
  });

  it("grants a waiter who asked to take one at once, with their lease, and tells the caller waiting on it", async () => {
    const [vm] = await addPool("wait-f", 1);
    await drainVm(core, operator, vm!);
    const joined = await joinQueue(core, { person: { lookup: "ci-nightly" }, source: "cli" }, { pool: "wait-f", autoTake: true, forMs: 2 * H });
    // An unknown name is refused (services are added by an admin first).
    expect(joined).toMatchObject({ ok: false, refusal: { code: "unknown_person" } });
    const place = await joinQueue(core, as("UAUTO001"), { pool: "wait-f", autoTake: true, forMs: 2 * H, note: "nightly" });
    if (!place.ok) throw new Error("not queued");
    await liveWait(core, place.value.waiterId);
    expect(await waitOutcome(core, place.value.waiterId)).toMatchObject({ state: "waiting", position: 1, checkout: null });
    await repairVm(core, operator, vm!);
    expect(await sweepLeases(core)).toMatchObject({ granted: 1, offered: 0 });
    const outcome = await waitOutcome(core, place.value.waiterId);
    expect(outcome).toMatchObject({ state: "taken", checkout: { name: vm, note: "nightly" } });
    expect(outcome.checkout!.endsAt!.getTime() - outcome.checkout!.startedAt.getTime()).toBe(2 * H);
    expect((await newNotices()).map((n) => n.kind)).toContain("vm_checked_out");
  });

  it("gives no VM to an auto-take place whose waiting request is gone: it leaves the queue and the VM goes to the next", async () => {
    const [vm] = await addPool("wait-g", 1);
    await drainVm(core, operator, vm!);
    const gone = await joinQueue(core, as("UGONE001"), { pool: "wait-g", autoTake: true });
    const next = await joinQueue(core, as("UNEXT001"), { pool: "wait-g", autoTake: true });
    if (!gone.ok || !next.ok) throw new Error("not queued");
    // The first one's process stopped renewing it: its wait ran out.
    await liveWait(core, gone.value.waiterId);
    await database.sql`update waits set alive_until = now() - interval '1 second' where person_id = (select person_id from waiters where id = ${gone.value.waiterId})`;
    await liveWait(core, next.value.waiterId);
    await repairVm(core, operator, vm!);
    expect(await sweepLeases(core)).toMatchObject({ granted: 1, offered: 0 });
    expect(await waitOutcome(core, gone.value.waiterId)).toMatchObject({ state: "left", checkout: null });
    expect(await waitOutcome(core, next.value.waiterId)).toMatchObject({ state: "taken", checkout: { name: vm } });
  });
});

describe("what a lease change may ask (one rule for Slack, the CLI and the API)", () => {
  it("is by a duration, until a time or pinned, one at most; several given are named for the adapter to say so", () => {
    const at = new Date("2027-01-04T10:00:00Z");
    expect(leaseRequestOf({})).toEqual({ by: undefined });
    expect(leaseRequestOf({ by: 3_600_000 })).toEqual({ by: 3_600_000 });
    expect(leaseRequestOf({ until: at })).toEqual({ until: at });
    expect(leaseRequestOf({ pin: true })).toEqual({ pin: true });
    expect(leaseRequestOf({ pin: false, by: 60_000 })).toEqual({ by: 60_000 });
    expect(leaseRequestOf({ by: 60_000, pin: true })).toEqual({ several: ["by", "pin"] });
    expect(leaseRequestOf({ by: 60_000, until: at, pin: true })).toEqual({ several: ["by", "until", "pin"] });
  });
});
