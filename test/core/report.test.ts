import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { setPool } from "../../src/core/admin.js";
import { checkout } from "../../src/core/checkout.js";
import { adminReport, type AdminReport } from "../../src/core/report.js";
import type { Core } from "../../src/core/types.js";
import { joinQueue } from "../../src/core/waitlist.js";
import { coreFor, freshDatabase, TestClock, addPoolVms } from "../helpers/db.js";

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const operator = { person: "operator", source: "cli" } as const;
const as = (id: string) => ({ person: { slackUserId: id }, source: "slack" }) as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let clock: TestClock;
let core: Core;
const addPool = (pool: string, count: number) => addPoolVms(core, pool, count);

/** Checks out a VM of the pool for this Slack user, its start moved `agoMs` before the clock. */
async function holdFor(pool: string, user: string, agoMs: number): Promise<string> {
  const r = await checkout(core, as(user), { pool });
  if (!r.ok) throw new Error(`checkout refused: ${r.refusal.code}`);
  await database.db.execute(sql`update checkouts set started_at = ${new Date(clock.now().getTime() - agoMs).toISOString()}::timestamptz where id = ${r.value.checkoutId}`);
  return r.value.name;
}

/** `n` ended checkouts of the pool's first VM, each `lengthMs` long, ended within the last day. */
async function history(pool: string, n: number, lengthMs: number): Promise<void> {
  const now = clock.now().getTime();
  for (let i = 0; i < n; i++) {
    const end = new Date(now - (i + 1) * M);
    await database.db.execute(sql`
      insert into checkouts (vm_id, person_id, pool, started_at, ends_at, ended_at, end_reason)
      select v.id, (select id from people where name = 'operator'), v.pool, ${new Date(end.getTime() - lengthMs).toISOString()}::timestamptz, null, ${end.toISOString()}::timestamptz, 'checked_in'
      from vms v where v.pool = ${pool} order by v.id limit 1`);
  }
}

async function report(days?: number): Promise<AdminReport> {
  const r = await adminReport(core, operator, days === undefined ? {} : { days });
  if (!r.ok) throw new Error(`report refused: ${r.refusal.code}`);
  return r.value;
}

beforeAll(async () => {
  database = await freshDatabase();
});
afterAll(async () => database.close());
beforeEach(() => {
  clock = new TestClock();
  core = coreFor(database, { clock: clock.now, defaultQuota: 5 });
});

describe("the admin report", () => {
  it("is refused to someone who is not an admin, and asks for 1 to 30 days of bookings", async () => {
    expect(await adminReport(core, as("UNOTADM1"))).toMatchObject({ ok: false, refusal: { code: "not_admin", operation: "read the admin report" } });
    expect(await adminReport(core, operator, { days: 0 })).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "days" } });
    expect(await adminReport(core, operator, { days: 31 })).toMatchObject({ ok: false, refusal: { code: "invalid_input", field: "days" } });
    expect((await adminReport(core, as("UADMIN01"))).ok).toBe(true);
  });

  it("lists the longest open holds first, with who holds them, since when and until when", async () => {
    await addPool("long", 3);
    const oldest = await holdFor("long", "ULONG001", 50 * H);
    const middle = await holdFor("long", "ULONG002", 30 * H);
    const r = await report();
    const mine = r.longestHolds.filter((h) => h.pool === "long");
    expect(mine.map((h) => h.vm)).toEqual([oldest, middle]);
    expect(mine[0]).toMatchObject({ person: { slackUserId: "ULONG001" }, since: new Date(clock.now().getTime() - 50 * H) });
    expect(mine[0]!.endsAt).toBeInstanceOf(Date);
  });

  it("flags holds past the pool's usual length: the 90th percentile of its recent checkouts, or its lease without enough of them", async () => {
    await addPool("usual", 3);
    await history("usual", 12, 1 * H);
    const over = await holdFor("usual", "UUSUAL01", 3 * H);
    await holdFor("usual", "UUSUAL02", 30 * M);
    await addPool("fresh", 2);
    await setPool(core, operator, "fresh", { leaseMs: 2 * H });
    const pastLease = await holdFor("fresh", "UFRESH01", 5 * H);
    const r = await report();
    expect(r.pastUsual.pools.find((p) => p.pool === "usual")).toEqual({ pool: "usual", usualMs: H, basis: "p90", samples: 12, over: 1 });
    expect(r.pastUsual.pools.find((p) => p.pool === "fresh")).toEqual({ pool: "fresh", usualMs: 2 * H, basis: "lease", samples: 0, over: 1 });
    const flagged = r.pastUsual.holds.filter((h) => ["usual", "fresh"].includes(h.pool));
    expect(flagged.map((h) => [h.vm, h.usualMs])).toEqual([
      [pastLease, 2 * H],
      [over, H],
    ]);
  });

  it("lists VMs nobody has checked out for 7 days, and not those used this week", async () => {
    const both = await addPool("idle", 2);
    await database.db.execute(sql`update vms set state_changed_at = ${new Date(clock.now().getTime() - 9 * D).toISOString()}::timestamptz where pool = 'idle'`);
    const used = await holdFor("idle", "UIDLE001", 2 * D);
    const idle = both.find((vm) => vm !== used);
    const r = await report();
    const mine = r.idle.vms.filter((v) => v.pool === "idle");
    expect(mine).toEqual([{ vm: idle, pool: "idle", since: new Date(clock.now().getTime() - 9 * D), lastCheckoutAt: null }]);
    expect(r.idle.total).toBeGreaterThanOrEqual(1);
  });

  it("tells per pool how many wait now, since when the first waits, and the median wait for a VM this week", async () => {
    await addPool("queue", 1);
    await holdFor("queue", "UQUEUE01", H);
    expect((await joinQueue(core, as("UQUEUE02"), { pool: "queue" })).ok).toBe(true);
    const joined = clock.now();
    // Two waits that ended with a VM this week: 10 and 30 minutes; median 20.
    for (const [i, waitMs] of [10 * M, 30 * M].entries()) {
      const end = new Date(clock.now().getTime() - (i + 1) * H);
      await database.db.execute(sql`
        insert into waiters (pool, person_id, source, state, joined_at, offered_at, ended_at)
        values ('queue', (select id from people where name = 'operator'), 'slack', 'taken', ${new Date(end.getTime() - waitMs).toISOString()}::timestamptz, ${end.toISOString()}::timestamptz, ${end.toISOString()}::timestamptz)`);
    }
    clock.advance(5 * M);
    const q = (await report()).queues.find((x) => x.pool === "queue");
    expect(q).toEqual({ pool: "queue", waiting: 1, oldestSince: expect.any(Date), served: 2, medianWaitMs: 20 * M });
    expect(Math.abs(q!.oldestSince!.getTime() - joined.getTime())).toBeLessThan(5 * M);
  });

  it("lists quarantined VMs with their last error", async () => {
    const [vm] = await addPool("quar", 1);
    await database.db.execute(sql`update vms set state = 'quarantined', cleanup_attempts = 3, cleanup_last_error = 'rm: cannot remove /tmp/x: Permission denied' where name = ${vm}`);
    const r = await report();
    expect(r.quarantined.vms.find((v) => v.vm === vm)).toMatchObject({ pool: "quar", lastError: "rm: cannot remove /tmp/x: Permission denied", attempts: 3 });
    expect(r.quarantined.total).toBeGreaterThanOrEqual(1);
  });

  it("lists bookings that start within the days asked, and not later ones", async () => {
    await addPool("book", 2);
    const book = async (label: string, inMs: number) =>
      database.db.execute(sql`
        insert into reservations (label, person_id, pool, count, starts_at, ends_at, source)
        values (${label}, (select id from people where name = 'operator'), 'book', 1, ${new Date(clock.now().getTime() + inMs).toISOString()}::timestamptz,
                ${new Date(clock.now().getTime() + inMs + H).toISOString()}::timestamptz, 'cli')`);
    await book("soon", 2 * D);
    await book("later", 5 * D);
    expect((await report()).bookings.list.filter((b) => b.pool === "book").map((b) => b.label)).toEqual(["soon"]);
    expect((await report(7)).bookings.list.filter((b) => b.pool === "book").map((b) => b.label)).toEqual(["soon", "later"]);
  });

  it("lists provider jobs that failed for good in the last day, not older ones", async () => {
    await addPool("prov", 1);
    const fail = async (agoMs: number, error: string) =>
      database.db.execute(sql`
        insert into provider_jobs (kind, state, pool, attempts, last_error, finished_at)
        values ('create', 'failed', 'prov', 3, ${error}, ${new Date(clock.now().getTime() - agoMs).toISOString()}::timestamptz)`);
    await fail(2 * H, "docker: image not found");
    await fail(2 * D, "an old failure");
    const r = await report();
    expect(r.providerFailures.jobs.filter((j) => j.pool === "prov").map((j) => [j.kind, j.error, j.attempts])).toEqual([["create", "docker: image not found", 3]]);
    expect(r.providerFailures.total).toBe(1);
  });
});
