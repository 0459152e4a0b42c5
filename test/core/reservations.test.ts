import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drainVm, setPool } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { changeLease } from "../../src/core/leases.js";
import { parseNotice, type Notice } from "../../src/core/notices.js";
import { bookingsOfVm, cancelReservation, listReservations, reserve, type ReserveRequest } from "../../src/core/reservations.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import { joinQueue } from "../../src/core/waitlist.js";
import type { Core } from "../../src/core/types.js";
import { coreFor, freshDatabase, liveWait, TestClock, addPoolVms } from "../helpers/db.js";

/**
 * Reservations in the core against a real PostgreSQL: booking picks VMs now or
 * says what is free and the nearest range that fits; the database refuses
 * overlaps; checkouts and extensions keep clear of bookings; the sweep starts
 * bookings (replacing a VM still held), reminds before, and ends them.
 */
const H = 3_600_000;
const M = 60_000;
const operator = { person: "operator", source: "cli" } as const;
const as = (id: string) => ({ person: { slackUserId: id }, source: "slack" }) as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let clock: TestClock;
let core: Core;
const addPool = (pool: string, count: number) => addPoolVms(core, pool, count);

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

const inH = (h: number) => new Date(clock.now().getTime() + h * H);
const book = (who: string, req: Partial<ReserveRequest> & { pool: string; label: string }) =>
  reserve(core, as(who), { count: 1, from: inH(2), to: inH(4), ...req });

/** No two active bookings of one VM overlap: the invariant, read straight from the table. */
async function overlaps(): Promise<number> {
  const [row] = await database.sql<{ n: number }[]>`
    select count(*)::int as n from reservation_vms a join reservation_vms b on a.vm_id = b.vm_id and a.id < b.id
    where a.active and b.active and a.during && b.during`;
  return row!.n;
}

beforeAll(async () => {
  database = await freshDatabase();
  clock = new TestClock();
  core = coreFor(database, { clock: clock.now, reservationReminderLeadsMs: [24 * H, H] });
});
afterAll(async () => database.close());

describe("booking", () => {
  it("books concrete VMs now and lists them", async () => {
    const vms = await addPool("demo", 3);
    const r = await book("U0ALICE01", { pool: "demo", count: 2, label: "demo-1", note: "customer demo" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.vms).toHaveLength(2);
    expect(vms).toEqual(expect.arrayContaining(r.value.vms));
    const listed = await listReservations(core, operator, { label: "demo-1" });
    expect(listed.ok && listed.value.map((x) => [x.label, x.count, x.note, x.vms])).toEqual([["demo-1", 2, "customer demo", r.value.vms]]);
  });

  it("refuses plainly when too few are free: how many are, and the nearest range that fits", async () => {
    // demo has 3 VMs, 2 booked 2h–4h from now: a booking of 2 then finds 1 free; 4h–6h fits.
    const r = await book("U0BOB0001", { pool: "demo", count: 2, label: "demo-2" });
    expect(r.ok).toBe(false);
    if (r.ok || r.refusal.code !== "not_enough_free") throw new Error(JSON.stringify(r));
    expect(r.refusal.free).toBe(1);
    expect(r.refusal.nearest?.from.getTime()).toBe(inH(4).getTime());
    expect(r.refusal.nearest!.to.getTime() - r.refusal.nearest!.from.getTime()).toBe(2 * H);
    // Nothing was written.
    expect((await listReservations(core, operator, { label: "demo-2" })).ok && (await listReservations(core, operator, { label: "demo-2" }))).toMatchObject({ value: [] });
  });

  it("keeps a label unique while the booking is active, and checks it like a pool name", async () => {
    expect(await book("U0BOB0001", { pool: "demo", label: "demo-1", from: inH(10), to: inH(11) })).toMatchObject({ ok: false, refusal: { code: "label_taken" } });
    expect(await book("U0BOB0001", { pool: "demo", label: "Bad Label", from: inH(10), to: inH(11) })).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "label" } });
    expect(await book("U0BOB0001", { pool: "demo", label: "past", from: inH(-1), to: inH(1) })).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "from" } });
    expect(await book("U0BOB0001", { pool: "demo", label: "backwards", from: inH(3), to: inH(2) })).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "to" } });
    expect(await book("U0BOB0001", { pool: "nope", label: "nope", from: inH(3), to: inH(4) })).toMatchObject({ ok: false, refusal: { code: "unknown_pool" } });
    expect(await book("U0BOB0001", { pool: "demo", label: "too-long", from: inH(3), to: inH(3 + 8 * 24) })).toMatchObject({ ok: false, refusal: { code: "booking_too_long", pool: "demo", maxMs: 7 * 24 * H } });
  });

  it("refuses a booking starting later than MAX_BOOKING_AHEAD (90 days unless set), or longer than MAX_BOOKING_LENGTH, naming the limit; a pool's own limits win", async () => {
    await addPool("ahead", 1);
    const year9999 = new Date("9999-01-01T00:00:00Z");
    const far = await book("U0FAR0001", { pool: "ahead", label: "forever", from: year9999, to: new Date(year9999.getTime() + H) });
    expect(far).toMatchObject({ ok: false, refusal: { code: "booking_too_far", pool: "ahead", maxAheadMs: 90 * 24 * H } });
    if (!far.ok && far.refusal.code === "booking_too_far") expect(far.refusal.latestStart.getTime()).toBe(clock.now().getTime() + 90 * 24 * H);
    expect((await book("U0FAR0001", { pool: "ahead", label: "in-89-days", from: inH(89 * 24), to: inH(89 * 24 + 1) })).ok).toBe(true);

    const limited: Core = { ...core, bookingLimits: { maxAheadMs: 10 * 24 * H, maxLengthMs: 2 * H } };
    expect(await reserve(limited, as("U0FAR0001"), { pool: "ahead", count: 1, from: inH(11 * 24), to: inH(11 * 24 + 1), label: "eleven-days" })).toMatchObject({
      ok: false,
      refusal: { code: "booking_too_far", maxAheadMs: 10 * 24 * H },
    });
    expect(await reserve(limited, as("U0FAR0001"), { pool: "ahead", count: 1, from: inH(2), to: inH(5), label: "three-hours" })).toMatchObject({
      ok: false,
      refusal: { code: "booking_too_long", maxMs: 2 * H },
    });

    const set = await setPool(limited, operator, "ahead", { maxBookingAheadMs: 200 * 24 * H, maxBookingLengthMs: 4 * H });
    expect(set).toMatchObject({ ok: true, value: { maxBookingAheadMs: 200 * 24 * H, maxBookingLengthMs: 4 * H } });
    expect((await reserve(limited, as("U0FAR0001"), { pool: "ahead", count: 1, from: inH(150 * 24), to: inH(150 * 24 + 3), label: "pool-allows" })).ok).toBe(true);
    expect(await reserve(limited, as("U0FAR0001"), { pool: "ahead", count: 1, from: inH(2), to: inH(7), label: "five-hours" })).toMatchObject({
      ok: false,
      refusal: { code: "booking_too_long", maxMs: 4 * H },
    });
  });

  it("books named VMs: exactly those, or says how many of them are free and when they all are", async () => {
    const [a, b, c] = await addPool("named", 3);
    const r = await book("U0ALICE01", { pool: "named", count: 2, vms: [c!, a!], label: "named-1" });
    expect(r).toMatchObject({ ok: true, value: { count: 2, vms: [a, c] } });
    // One of the two named is booked then: refused with 1 free of them, and the range where both are.
    const clash = await book("U0BOB0001", { pool: "named", count: 2, vms: [a!, b!], label: "named-2" });
    if (clash.ok || clash.refusal.code !== "not_enough_free") throw new Error(JSON.stringify(clash));
    expect(clash.refusal.free).toBe(1);
    expect(clash.refusal.nearest?.from.getTime()).toBe(inH(4).getTime());
    // b alone is free, though the pool's third VM is booked too.
    expect(await book("U0BOB0001", { pool: "named", count: 1, vms: [b!], label: "named-3" })).toMatchObject({ ok: true, value: { vms: [b] } });
    expect(await book("U0BOB0001", { pool: "named", count: 1, vms: ["demo-1"], label: "named-4", from: inH(20), to: inH(21) })).toMatchObject({
      ok: false,
      refusal: { code: "unknown_vm", vm: "demo-1" },
    });
    expect(await book("U0BOB0001", { pool: "named", count: 3, vms: [a!, b!], label: "named-5", from: inH(20), to: inH(21) })).toMatchObject({
      ok: false,
      refusal: { code: "invalid_input", field: "count" },
    });
    expect(await book("U0BOB0001", { pool: "named", count: 2, vms: [a!, a!], label: "named-6", from: inH(20), to: inH(21) })).toMatchObject({
      ok: false,
      refusal: { code: "invalid_input", field: "vms" },
    });
    expect(await overlaps()).toBe(0);
  });

  it("PostgreSQL itself refuses two active bookings of one VM for overlapping times", async () => {
    const [row] = await database.sql<{ reservation_id: string; vm_id: number }[]>`select reservation_id, vm_id from reservation_vms where active limit 1`;
    await expect(
      database.sql`insert into reservation_vms (reservation_id, vm_id, during) values (${row!.reservation_id}, ${row!.vm_id}, tstzrange(now() + interval '3 hours', now() + interval '5 hours'))`,
    ).rejects.toThrow(/reservation_vms_no_overlap/);
  });

  it("200 concurrent bookings racing for the same VMs: no overlap ever commits, each refusal names what is free", async () => {
    await addPool("race", 5);
    const from = inH(30);
    const to = inH(32);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => reserve(core, as(`U0RACE${String(i).padStart(3, "0")}`), { pool: "race", count: 1 + (i % 2), from, to, label: `race-${i}` })),
    );
    const booked = results.filter((r) => r.ok);
    const vmsBooked = booked.flatMap((r) => (r.ok ? r.value.vms : []));
    expect(vmsBooked.length).toBeLessThanOrEqual(5);
    expect(new Set(vmsBooked).size).toBe(vmsBooked.length);
    expect(booked.length).toBeGreaterThan(0);
    for (const r of results.filter((x) => !x.ok)) {
      if (r.ok || r.refusal.code !== "not_enough_free") throw new Error(`unexpected refusal ${JSON.stringify(r)}`);
      expect(r.refusal.free).toBeLessThan(r.refusal.count);
      expect(r.refusal.free).toBeGreaterThanOrEqual(0);
      // The nearest fit is right after this range (every VM frees at `to`).
      expect(r.refusal.nearest?.from.getTime()).toBe(to.getTime());
    }
    // Every refusal after the last success saw the pool as it ended: 5 minus what was booked.
    expect(await overlaps()).toBe(0);
  });
});

describe("who may read whose bookings (HIDE_HOLDERS)", () => {
  it("a filter by someone else finds nothing, and others' bookings show neither who booked nor their note; the person and admins see all", async () => {
    await addPool("private", 2);
    const hidden: Core = { ...core, hideHolders: true };
    const booked = await reserve(hidden, as("U0ALICE77"), { pool: "private", count: 1, from: inH(2), to: inH(3), label: "alice-secret", note: "interview prep" });
    expect(booked.ok).toBe(true);

    const byAlice = await listReservations(hidden, as("U0BOB0077"), { person: { slackUserId: "U0ALICE77" } });
    expect(byAlice).toEqual({ ok: true, value: [] });
    const all = await listReservations(hidden, as("U0BOB0077"), { pool: "private" });
    expect(all.ok && all.value.map((r) => ({ label: r.label, person: r.person, note: r.note }))).toEqual([{ label: "alice-secret", person: null, note: null }]);

    const own = await listReservations(hidden, as("U0ALICE77"), { person: { slackUserId: "U0ALICE77" } });
    expect(own.ok && own.value.map((r) => r.note)).toEqual(["interview prep"]);
    const admin = await listReservations(hidden, as("UADMIN01"), { person: { slackUserId: "U0ALICE77" } });
    expect(admin.ok && admin.value.map((r) => [r.person?.slackUserId, r.note])).toEqual([["U0ALICE77", "interview prep"]]);
  });
});

describe("checkouts and leases keep clear of bookings", () => {
  it("a checkout takes an unbooked VM when there is one", async () => {
    const [a, b] = await addPool("pick", 2);
    const r = await book("U0ALICE01", { pool: "pick", label: "pick-1", from: inH(1), to: inH(2) });
    expect(r.ok).toBe(true);
    const booked = r.ok ? r.value.vms[0] : "";
    const c = await checkout(core, as("U0CAROL01"), { pool: "pick" });
    expect(c.ok && c.value.name).toBe(booked === a ? b : a);
    expect(c.ok && c.value.bookedFrom).toBeNull();
  });

  it("when every free VM is booked before the lease would end, the lease stops at the booking's start, and says so", async () => {
    const c = await checkout(core, as("U0DAVE001"), { pool: "pick" });
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.value.endsAt?.getTime()).toBe(inH(1).getTime());
    expect(c.value.bookedFrom?.getTime()).toBe(inH(1).getTime());
    const [dm] = (await newNotices()).filter((n) => n.kind === "vm_checked_out" && n.checkoutId === c.value.checkoutId);
    expect(dm).toMatchObject({ bookedFrom: expect.any(String) });
    // An extension into the booking is refused, with the reason.
    const ext = await changeLease(core, as("U0DAVE001"), c.value.name, { by: H });
    expect(ext).toMatchObject({ ok: false, refusal: { code: "vm_booked", vm: c.value.name, label: "pick-1" } });
    // Even an admin pinning it.
    expect(await changeLease(core, operator, c.value.name, { pin: true })).toMatchObject({ ok: false, refusal: { code: "vm_booked" } });
    // Shortening is fine.
    expect((await changeLease(core, operator, c.value.name, { until: new Date(clock.now().getTime() + 30 * M) })).ok).toBe(true);
    expect((await checkin(core, as("U0DAVE001"), c.value.name)).ok).toBe(true);
  });

  it("a booking refuses a VM whose checkout runs into its range", async () => {
    const [only] = await addPool("busy", 1);
    const c = await checkout(core, as("U0ERIN001"), { pool: "busy", forMs: 4 * H });
    expect(c.ok && c.value.name).toBe(only);
    const r = await book("U0ALICE01", { pool: "busy", label: "busy-1", from: inH(2), to: inH(3) });
    expect(r).toMatchObject({ ok: false, refusal: { code: "not_enough_free", free: 0 } });
    // The nearest: when the lease ends plus the grace.
    if (!r.ok && r.refusal.code === "not_enough_free") expect(r.refusal.nearest?.from.getTime()).toBe(inH(4).getTime() + core.leases.graceMs);
  });

  it("a checkout and a booking racing for the last VM: never a lease into a booking", async () => {
    for (let round = 0; round < 10; round++) {
      const [vm] = await addPool(`last${round}`, 1);
      const pool = `last${round}`;
      const [c, r] = await Promise.all([
        checkout(core, as(`U0RC${String(round).padStart(4, "0")}`), { pool, forMs: 4 * H }),
        book("U0ALICE01", { pool, label: `last-${round}`, from: inH(1), to: inH(2) }),
      ]);
      if (r.ok && c.ok) {
        // Both: the lease was cut at the booking's start.
        expect(c.value.endsAt?.getTime()).toBe(inH(1).getTime());
      } else if (c.ok) {
        expect(r).toMatchObject({ ok: false, refusal: { code: "not_enough_free", free: 0 } });
      } else {
        // The checkout found the VM locked by the booking in flight: refused as not free, nothing held.
        expect(r.ok).toBe(true);
        expect(c.refusal.code).toBe("no_vm_free");
      }
      const [bad] = await database.sql<{ n: number }[]>`
        select count(*)::int as n from checkouts c join reservation_vms rv on rv.vm_id = c.vm_id and rv.active and rv.checkout_id is null
        join vms v on v.id = c.vm_id where v.name = ${vm!} and c.ended_at is null and (c.ends_at is null or c.ends_at > lower(rv.during))`;
      expect(bad!.n).toBe(0);
    }
  });

  it("a VM handed to a waiter gets its lease cut at the VM's next booking too", async () => {
    const [vm] = await addPool("queue", 1);
    expect((await book("U0ALICE01", { pool: "queue", label: "queue-1", from: inH(1), to: inH(2) })).ok).toBe(true);
    const first = await checkout(core, as("U0IVAN001"), { pool: "queue" });
    expect(first.ok && first.value.endsAt?.getTime()).toBe(inH(1).getTime());
    const joined = await joinQueue(core, as("U0JUDY001"), { pool: "queue", autoTake: true });
    if (!joined.ok) throw new Error("not queued");
    await liveWait(core, joined.value.waiterId);
    expect((await checkin(core, as("U0IVAN001"), vm!)).ok).toBe(true);
    await database.sql`update vms set state = 'available', cleanup_next_at = null, cleanup_attempts = 0 where name = ${vm!}`;
    expect((await sweepLeases(core)).granted).toBe(1);
    const [row] = await database.sql<{ ends_at: string }[]>`select c.ends_at from checkouts c join vms v on v.checkout_id = c.id where v.name = ${vm!}`;
    expect(new Date(row!.ends_at).getTime()).toBe(inH(1).getTime());
  });

  it("a drain shows the bookings it would break", async () => {
    const [vm] = await addPool("drainp", 1);
    expect((await book("U0ALICE01", { pool: "drainp", label: "drain-1" })).ok).toBe(true);
    expect(await bookingsOfVm(core, vm!)).toMatchObject([{ label: "drain-1", person: "U0ALICE01" }]);
    expect((await drainVm(core, operator, vm!)).ok).toBe(true);
  });
});

describe("the start, reminders and the end (the sweep)", () => {
  it("reminds before the start, once per lead", async () => {
    await addPool("rem", 1);
    expect((await book("U0ALICE01", { pool: "rem", label: "rem-1", from: inH(30), to: inH(32) })).ok).toBe(true);
    await newNotices();
    clock.advance(7 * H); // 23 h before: the 1d reminder is due
    await sweepLeases(core);
    expect((await newNotices()).filter((n) => n.kind === "reservation_reminder" && n.label === "rem-1")).toHaveLength(1);
    await sweepLeases(core);
    expect((await newNotices()).filter((n) => n.kind === "reservation_reminder")).toHaveLength(0);
    clock.advance(22.5 * H); // 30 min before: the 1h one
    await sweepLeases(core);
    expect((await newNotices()).filter((n) => n.kind === "reservation_reminder" && n.label === "rem-1")).toHaveLength(1);
  });

  it("at the start the booked VMs become checkouts of the person until the end, with the DM", async () => {
    clock.advance(H);
    const report = await sweepLeases(core);
    expect(report.reservations.started).toBeGreaterThanOrEqual(1);
    const [row] = await database.sql<{ holder: string; started_at: string; ends_at: string; state: string }[]>`
      select p.name as holder, c.started_at, c.ends_at, r.state from reservations r join reservation_vms rv on rv.reservation_id = r.id
      join checkouts c on c.id = rv.checkout_id join people p on p.id = c.person_id where r.label = 'rem-1'`;
    expect(row).toMatchObject({ holder: "U0ALICE01", state: "started" });
    expect(new Date(row!.ends_at).getTime() - new Date(row!.started_at).getTime()).toBeLessThanOrEqual(2 * H);
    const dms = (await newNotices()).filter((n) => n.kind === "vm_checked_out" && n.reservation === "rem-1");
    expect(dms).toHaveLength(1);
  });

  it("a VM still held at the start is replaced by another free one; none free: the person and admins are told at once", async () => {
    const [a, b] = await addPool("swap", 2);
    const r = await book("U0ALICE01", { pool: "swap", label: "swap-1", count: 1, from: inH(1), to: inH(3) });
    expect(r.ok).toBe(true);
    const bookedVm = r.ok ? r.value.vms[0]! : "";
    const other = bookedVm === a ? b! : a!;
    // An admin hands the booked VM to someone past the start (a pinned lease).
    const c = await checkout(core, as("U0FRED001"), { pool: "swap", forMs: 30 * M });
    const c2 = await checkout(core, as("U0GINA001"), { pool: "swap", forMs: 30 * M });
    expect(c.ok && c2.ok).toBe(true);
    const holderOfBooked = c.ok && c.value.name === bookedVm ? "U0FRED001" : "U0GINA001";
    expect((await changeLease(core, operator, bookedVm, { until: inH(5) })).ok).toBe(false); // refused: booked
    // Force it the way an admin could before the booking existed: straight in the table.
    await database.sql`update checkouts set ends_at = null, remind_at = null where vm_id = (select id from vms where name = ${bookedVm}) and ended_at is null`;
    // The other VM comes back before the start.
    expect((await checkin(core, as(holderOfBooked === "U0FRED001" ? "U0GINA001" : "U0FRED001"), other)).ok).toBe(true);
    await database.sql`update vms set state = 'available', cleanup_next_at = null, cleanup_attempts = 0 where name = ${other}`;
    await newNotices();
    clock.advance(H);
    await sweepLeases(core);
    const [given] = await database.sql<{ name: string; holder: string }[]>`
      select v.name, p.name as holder from reservations r join reservation_vms rv on rv.reservation_id = r.id and rv.active
      join checkouts c on c.id = rv.checkout_id join vms v on v.id = c.vm_id join people p on p.id = c.person_id where r.label = 'swap-1'`;
    expect(given).toEqual({ name: other, holder: "U0ALICE01" });
    // The listing draws the VM given instead, from the start's sweep, and no more the one it replaced.
    const listed = await listReservations(core, as("U0ALICE01"), { label: "swap-1" });
    expect(listed.ok && listed.value[0]!.ranges).toEqual([{ vm: other, from: clock.now(), to: r.ok ? r.value.to : null, given: true }]);

    // Now none free: a booking of the pool's VM held (pinned) by someone else.
    await addPool("short", 1);
    const s = await book("U0ALICE01", { pool: "short", label: "short-1", from: inH(1), to: inH(2) });
    expect(s.ok).toBe(true);
    const held = await checkout(core, as("U0HANK001"), { pool: "short" });
    expect(held.ok && held.value.endsAt?.getTime()).toBe(inH(1).getTime());
    await database.sql`update checkouts set ends_at = null, remind_at = null where id = ${held.ok ? held.value.checkoutId : 0}`;
    await newNotices();
    clock.advance(H);
    await sweepLeases(core);
    const told = (await newNotices()).filter((n) => n.kind === "reservation_short");
    expect(told).toMatchObject([{ label: "short-1", missing: 1, count: 1, reason: "no_vm" }]);
    await sweepLeases(core);
    expect((await newNotices()).filter((n) => n.kind === "reservation_short")).toHaveLength(0);
    // Once the VM comes back, the next sweep gives it.
    expect((await checkin(core, operator, held.ok ? held.value.name : "", { force: true })).ok).toBe(true);
    await database.sql`update vms set state = 'available', cleanup_next_at = null, cleanup_attempts = 0 where name = ${held.ok ? held.value.name : ""}`;
    const later = await sweepLeases(core);
    expect(later.reservations.given).toBe(1);
  });

  it("a lease cut at a booking's start runs its grace quietly: the booking gets the VM once it is back, and nobody is told of a shortfall", async () => {
    const [vm] = await addPool("grace", 1);
    expect((await book("U0ALICE01", { pool: "grace", label: "grace-1", from: inH(1), to: inH(3) })).ok).toBe(true);
    const c = await checkout(core, as("U0KARL001"), { pool: "grace" });
    expect(c.ok && c.value.endsAt?.getTime()).toBe(inH(1).getTime());
    await newNotices();
    clock.advance(H + M); // the start: the lease ended a minute ago and runs its grace
    await sweepLeases(core);
    expect((await newNotices()).filter((n) => n.kind === "reservation_short")).toHaveLength(0);
    clock.advance(core.leases.graceMs); // the grace is over: expired, then cleaned
    await sweepLeases(core);
    await database.sql`update vms set state = 'available', cleanup_next_at = null, cleanup_attempts = 0 where name = ${vm!} and state = 'cleaning'`;
    const report = await sweepLeases(core);
    expect(report.reservations.given).toBe(1);
    const notices = await newNotices();
    expect(notices.filter((n) => n.kind === "reservation_short")).toHaveLength(0);
    expect(notices.filter((n) => n.kind === "vm_checked_out" && n.reservation === "grace-1")).toHaveLength(1);
  });

  it("a booking whose start passed while vmres was down is started at the next sweep; one whose whole range passed is told", async () => {
    await addPool("down", 2);
    expect((await book("U0ALICE01", { pool: "down", label: "down-1", from: inH(1), to: inH(3) })).ok).toBe(true);
    expect((await book("U0BOB0001", { pool: "down", label: "down-2", from: inH(1), to: inH(2) })).ok).toBe(true);
    await newNotices();
    clock.advance(2.5 * H); // nothing swept meanwhile
    await sweepLeases(core);
    const notices = await newNotices();
    expect(notices.filter((n) => n.kind === "vm_checked_out" && n.reservation === "down-1")).toHaveLength(1);
    expect(notices.filter((n) => n.kind === "reservation_short")).toMatchObject([{ label: "down-2", reason: "missed" }]);
    const listed = await listReservations(core, operator, { pool: "down", all: true });
    expect(listed.ok && listed.value.map((r) => [r.label, r.state]).sort()).toEqual([
      ["down-1", "started"],
      ["down-2", "ended"],
    ]);
  });

  it("cancel before the start frees the VMs; cancel during keeps the checkouts with the person; admins may cancel anyone's, and the person is told", async () => {
    await addPool("cx", 2);
    expect((await book("U0ALICE01", { pool: "cx", label: "cx-1", count: 2, from: inH(1), to: inH(3) })).ok).toBe(true);
    expect(await cancelReservation(core, as("U0BOB0001"), "cx-1")).toMatchObject({ ok: false, refusal: { code: "not_your_reservation" } });
    expect(await cancelReservation(core, as("U0ALICE01"), "cx-1")).toMatchObject({ ok: true, value: { byAdmin: false, kept: [] } });
    // Freed: the same range books again, and the label is free again.
    expect((await book("U0ALICE01", { pool: "cx", label: "cx-1", count: 2, from: inH(1), to: inH(3) })).ok).toBe(true);
    clock.advance(H);
    await sweepLeases(core);
    await newNotices();
    const cancelled = await cancelReservation(core, as("UADMIN01"), "cx-1");
    expect(cancelled).toMatchObject({ ok: true, value: { byAdmin: true } });
    expect(cancelled.ok && cancelled.value.kept).toHaveLength(2);
    expect((await newNotices()).filter((n) => n.kind === "reservation_cancelled")).toMatchObject([{ label: "cx-1", by: { name: "UADMIN01" } }]);
    // The VMs stay checked out to the person; their leases end at the booking's end as before.
    const [n] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from checkouts c join people p on p.id = c.person_id where p.name = 'U0ALICE01' and c.pool = 'cx' and c.ended_at is null`;
    expect(n!.n).toBe(2);
    expect(await cancelReservation(core, as("U0ALICE01"), "cx-1")).toMatchObject({ ok: false, refusal: { code: "unknown_reservation" } });
  });
});

describe("time zones and DST", () => {
  it("a booking across a DST change is exactly as long as it says", async () => {
    await addPool("dst", 1);
    // Europe/Berlin leaves summer time on 2027-10-31 at 03:00 CEST (01:00 UTC): 00:00 to 06:00 local is 7 hours.
    const from = new Date("2027-10-30T22:00:00Z"); // 00:00 CEST
    const to = new Date("2027-10-31T05:00:00Z"); // 06:00 CET
    // Months ahead, past MAX_BOOKING_AHEAD's default: this pool allows it.
    expect((await setPool(core, operator, "dst", { maxBookingAheadMs: 3650 * 24 * H })).ok).toBe(true);
    const r = await reserve(core, as("U0ALICE01"), { pool: "dst", count: 1, from, to, label: "dst-1" });
    expect(r.ok).toBe(true);
    const [row] = await database.sql<{ hours: number }[]>`select extract(epoch from upper(during) - lower(during))::float8 / 3600 as hours from reservation_vms rv join reservations r on r.id = rv.reservation_id where r.label = 'dst-1'`;
    expect(row!.hours).toBe(7);
  });
});
