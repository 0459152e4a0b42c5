import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm, setPool } from "../../src/core/admin.js";
import { checkout } from "../../src/core/checkout.js";
import { parseNotice, type Notice } from "../../src/core/notices.js";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { finishCreate } from "../../src/core/provision/finish.js";
import { claimDueJobs } from "../../src/core/provision/jobs.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import { reserve } from "../../src/core/reservations.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import type { Core } from "../../src/core/types.js";
import { joinQueue, waitOutcome } from "../../src/core/waitlist.js";
import { checkoutDmOf } from "../../src/slack/deliveries/vm-checked-out.js";
import { coreFor, freshDatabase, liveWait, TestClock } from "../helpers/db.js";

/**
 * The four ways a VM is lent (a checkout, a waiter's grant, a booking's start, a provisioned
 * pool's lend) go through one writer: for the same person, pool settings, note and time they
 * write the same checkout row, VM link, event and notice, up to what names the path (the waiter,
 * the booking, `created`, the source). A lease that would run into a booking of the VM ends at its
 * start, and the DM says the VM must be back by then.
 */
const H = 3_600_000;
const M = 60_000;
const operator = { person: "operator", source: "cli" } as const;
const ann = { person: { slackUserId: "U0000001" }, source: "slack" } as const;
const bob = { person: { slackUserId: "U0000002" }, source: "slack" } as const;
const NOTE = "load tests";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let clock: TestClock;
let core: Core;
let ip = 0;

async function staticPool(pool: string): Promise<string> {
  const name = `${pool}-1`;
  const added = await addVm(core, operator, { name, ip: `198.51.100.${++ip}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
  expect(added.ok).toBe(true);
  expect((await setPool(core, operator, pool, { leaseMs: 2 * H })).ok).toBe(true);
  return name;
}

type Opening = {
  checkout: Record<string, unknown>;
  vm: Record<string, unknown>;
  event: { actor: string; source: string; kind: string; detail: Record<string, unknown> };
  notice: Extract<Notice, { kind: "vm_checked_out" }>;
};

/** What the one open checkout of a pool's VM wrote: its row, the VM's, its event and its notice. */
async function openingIn(pool: string): Promise<Opening> {
  const sql = database.sql;
  const [c] = await sql<{ id: string; vm_id: number }[]>`select id, vm_id from checkouts where pool = ${pool} and ended_at is null`;
  expect(c, `an open checkout in ${pool}`).toBeDefined();
  const [row] = await sql`
    select p.slack_user_id as person, c.pool, c.note, c.started_at, c.ends_at, c.remind_at, c.ended_at
    from checkouts c join people p on p.id = c.person_id where c.id = ${c!.id}`;
  const [vm] = await sql`select state, checkout_id = ${c!.id} as linked, held_for from vms where id = ${c!.vm_id}`;
  const events = await sql<Opening["event"][]>`
    select actor, source::text, kind, detail from events where vm_id = ${c!.vm_id} and kind = 'checked_out'`;
  const notices = (await sql<{ kind: string; payload: unknown }[]>`select kind, payload from outbox where kind = 'vm_checked_out' and (payload->>'checkoutId')::bigint = ${c!.id}`).map(
    (r) => {
      const parsed = parseNotice(r.kind, r.payload);
      if ("problem" in parsed) throw new Error(parsed.problem);
      return parsed.notice as Opening["notice"];
    },
  );
  expect(events).toHaveLength(1);
  expect(notices).toHaveLength(1);
  return { checkout: row!, vm: vm!, event: events[0]!, notice: notices[0]! };
}

/** The opening with what names its path or its VM left out, times as instants: what must be equal across paths. */
function common(o: Opening) {
  const { pool: _pool, checkout: _id, waiter: _w, reservation: _r, label: _l, created: _c, ...detail } = o.event.detail;
  const n = o.notice;
  const time = (t: string | null | undefined) => (t == null ? null : new Date(t).toISOString());
  return {
    checkout: { ...o.checkout, pool: undefined } as Record<string, unknown>,
    vm: o.vm,
    event: { actor: o.event.actor, kind: o.event.kind, detail, poolNamed: o.event.detail["pool"] === o.checkout["pool"], checkoutNamed: Number(o.event.detail["checkout"]) === n.checkoutId },
    notice: {
      holder: n.holder,
      vm: { sshUser: n.sshUser, sshPort: n.sshPort, pool: n.pool === o.checkout["pool"] },
      startedAt: time(n.startedAt),
      endsAt: time(n.endsAt),
      note: n.note,
      bookedFrom: time(n.bookedFrom),
    },
  };
}

const dmText = (n: Opening["notice"]) => JSON.stringify(checkoutDmOf(n, { timeZone: null, now: clock.now() }));

beforeAll(async () => {
  database = await freshDatabase();
  clock = new TestClock();
  core = coreFor(database, { clock: clock.now });
});
afterAll(async () => {
  await database?.close();
});

describe("opening a checkout", () => {
  it("writes the same rows, event and notice for a checkout, a waiter's grant, a booking's start and a provisioned lend, and a lease cut by a booking says so in the DM", async () => {
    // Four pools alike (lease 2h), and two more whose one VM Bob has booked from 1h after the openings.
    for (const pool of ["by-checkout", "by-grant", "by-booking", "cut-checkout", "cut-grant"]) await staticPool(pool);
    const set = await setProvisioning(core, operator, "by-lend", { provider: "command", image: "base", maxSize: 1, providerSettings: { command: "/bin/true" } }, () => null);
    expect(set.ok, JSON.stringify(set)).toBe(true);
    expect((await setPool(core, operator, "by-lend", { leaseMs: 2 * H })).ok).toBe(true);
    const start = new Date(clock.now().getTime() + 5 * M);
    for (const pool of ["cut-checkout", "cut-grant"]) {
      const booked = await reserve(core, bob, { pool, count: 1, label: `bob-${pool}`, from: new Date(start.getTime() + H), to: new Date(start.getTime() + 3 * H) });
      expect(booked.ok, JSON.stringify(booked)).toBe(true);
    }
    // Ann's booking covers what a lease would: from the openings' time for 2h.
    const mine = await reserve(core, ann, { pool: "by-booking", count: 1, label: "ann-booking", from: start, to: new Date(start.getTime() + 2 * H), note: NOTE });
    expect(mine.ok, JSON.stringify(mine)).toBe(true);
    // Ann waits (taking at once) in the grant pools, and asks the provisioned pool for a VM.
    const waiters: number[] = [];
    for (const pool of ["by-grant", "cut-grant"]) {
      const place = await joinQueue(core, ann, { pool, autoTake: true, note: NOTE });
      if (!place.ok) throw new Error(JSON.stringify(place));
      await liveWait(core, place.value.waiterId);
      waiters.push(place.value.waiterId);
    }
    const creating = await checkoutFromPool(core, ann, { pool: "by-lend", note: NOTE });
    expect(creating.ok && creating.value.kind, JSON.stringify(creating)).toBe("creating");

    // All at the same moment.
    clock.advance(5 * M);
    for (const pool of ["by-checkout", "cut-checkout"]) expect((await checkout(core, ann, { pool, note: NOTE })).ok).toBe(true);
    const swept = await sweepLeases(core);
    expect(swept.granted).toBe(2);
    expect(swept.reservations.given).toBe(1);
    const [claim] = await claimDueJobs(core.db.$client, "test", 1, "by-lend");
    expect(claim).toBeDefined();
    expect(await finishCreate(core, claim!, { providerRef: "ref-1", ip: "198.51.100.200", sshUser: "root", sshPort: 22 })).toBe("done");

    const plain = await Promise.all(["by-checkout", "by-grant", "by-booking", "by-lend"].map(openingIn));
    const cut = await Promise.all(["cut-checkout", "cut-grant"].map(openingIn));

    // Plain: one shape, whatever the path; only the names of the path differ.
    const [first, ...others] = plain.map(common);
    for (const other of others) expect(other).toEqual(first);
    expect(first!.checkout).toMatchObject({ note: NOTE, ended_at: null });
    expect(new Date(first!.checkout["ends_at"] as Date).getTime() - new Date(first!.checkout["started_at"] as Date).getTime()).toBe(2 * H);
    expect(first!.notice.bookedFrom).toBeNull();
    expect(plain.map((o) => o.event.detail)).toEqual([
      expect.not.objectContaining({ waiter: expect.anything() }),
      expect.objectContaining({ waiter: expect.any(Number) }),
      expect.objectContaining({ reservation: expect.any(Number), label: "ann-booking" }),
      expect.objectContaining({ created: true }),
    ]);
    expect(plain[2]!.notice.reservation).toBe("ann-booking");

    // Cut at Bob's booking: the lease ends where it starts, for both paths, and the DM says so.
    const [cutCheckout, cutGrant] = cut.map(common);
    expect(cutGrant).toEqual(cutCheckout);
    const bookedFrom = new Date(start.getTime() + H).toISOString();
    expect(cutCheckout!.notice).toMatchObject({ endsAt: bookedFrom, bookedFrom });
    expect(new Date(cutCheckout!.checkout["remind_at"] as Date).toISOString()).toBe(new Date(start.getTime() + H - 10 * M).toISOString());
    for (const o of cut) {
      expect(dmText(o.notice)).toContain(`when a booking of *${o.notice.vm}* starts. It cannot be extended past that.`);
    }
    expect(dmText(plain[0]!.notice)).not.toContain("when a booking of");
    // The caller waiting on the grant (`checkout --wait`, the API's wait) is told the same.
    expect((await waitOutcome(core, waiters[1]!)).checkout?.bookedFrom?.toISOString()).toBe(bookedFrom);
    expect((await waitOutcome(core, waiters[0]!)).checkout?.bookedFrom).toBeNull();
  });
});
