import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { vmsOfPerson } from "../../src/core/queries.js";
import type { Core } from "../../src/core/types.js";
import { coreFor, freshDatabase, userId } from "../helpers/db.js";

const operator = { person: "operator", source: "cli" } as const;
const as = (id: string) => ({ person: { slackUserId: id }, source: "slack" }) as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;

async function addPool(pool: string, count: number, prefix = pool) {
  for (let i = 0; i < count; i++) {
    const r = await addVm(core, operator, {
      name: `${prefix}-${i}`,
      ip: `198.51.100.${(i % 250) + 1}`,
      pool,
      sshUser: "root",
      sshPort: 22,
      hostKeyFingerprint: null,
      tags: [],
    });
    expect(r.ok).toBe(true);
  }
}

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 40 });
  core = coreFor(database);
  await addPool("default", 3, "vm");
});
afterAll(async () => database.close());

describe("checkout", () => {
  it("gives a user a VM with everything needed to reach it", async () => {
    const r = await checkout(core, as("UALICE01"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ pool: "default", sshUser: "root", sshPort: 22 });
    expect(r.value.ip).toMatch(/^198\.51\.100\.\d+$/);
    expect(r.value.startedAt).toBeInstanceOf(Date);
    const mine = await vmsOfPerson(core, { slackUserId: "UALICE01" });
    expect(mine.ok && mine.value.map((v) => v.name)).toEqual([r.value.name]);
  });

  it("refuses a second VM over the quota and names the one held", async () => {
    const held = await vmsOfPerson(core, { slackUserId: "UALICE01" });
    const r = await checkout(core, as("UALICE01"));
    expect(r).toEqual({ ok: false, refusal: { code: "quota_reached", pool: "default", quota: 1, held: held.ok ? held.value.map((v) => v.name) : [] } });
  });

  it("refuses an unknown pool and lists the known ones", async () => {
    const r = await checkout(core, as("UBOB0001"), { pool: "gpu" });
    expect(r).toEqual({ ok: false, refusal: { code: "unknown_pool", pool: "gpu", known: ["default"] } });
  });

  it("says no VM is free with the counts by state, and queues one pool alert", async () => {
    expect((await checkout(core, as("UBOB0001"))).ok).toBe(true);
    expect((await checkout(core, as("UCAROL01"))).ok).toBe(true);
    const r = await checkout(core, as("UDAVE001"));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.refusal).toMatchObject({ code: "no_vm_free", pool: "default", counts: { available: 0, checked_out: 3 } });
    await checkout(core, as("UERIN001"));
    const alerts = await core.db.execute(sql`select count(*)::int as n from outbox where kind = 'pool_exhausted'`);
    expect(alerts[0]).toEqual({ n: 1 });
  });

  it("rejects malformed user IDs and pool names without touching the database", async () => {
    const before = await core.db.execute(sql`select count(*)::int as n from events`);
    for (const [user, pool] of [
      ["alice", "default"],
      ["U1' OR 1=1 --", "default"],
      ["UVALID01", "Robert'); DROP TABLE vms;--"],
      ["UVALID01", "has space"],
      ["UVALID01", "x".repeat(10_000)],
    ] as const) {
      const r = await checkout(core, as(user), { pool });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.refusal.code).toBe("invalid_input");
    }
    expect(await core.db.execute(sql`select count(*)::int as n from events`)).toEqual(before);
  });
});

describe("500 concurrent checkouts from 300 users on 100 VMs", () => {
  it("lends exactly 100 VMs, never one VM twice, never over quota, with events matching state", async () => {
    await addPool("load", 100);
    const requests: Promise<Awaited<ReturnType<typeof checkout>>>[] = [];
    for (let i = 0; i < 500; i++) {
      // Users 0-199 ask once or twice at the same moment; 200-299 ask once.
      const user = userId(i < 400 ? i % 200 : 200 + (i - 400));
      requests.push(checkout(core, as(user), { pool: "load" }));
    }
    const results = await Promise.all(requests);
    const won = results.filter((r) => r.ok);
    expect(won).toHaveLength(100);
    const names = won.map((r) => (r.ok ? r.value.name : ""));
    expect(new Set(names).size).toBe(100);
    for (const r of results) if (!r.ok) expect(["no_vm_free", "quota_reached"]).toContain(r.refusal.code);

    const perUser = await core.db.execute<{ person_id: number; n: number }>(sql`
      select person_id, count(*)::int as n from checkouts where pool = 'load' and ended_at is null group by person_id having count(*) > 1`);
    expect(perUser).toEqual([]);
    // The VM's open checkout, its holder and the event log agree.
    const mismatch = await core.db.execute(sql`
      select v.name from vms v left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id
      where v.pool = 'load' and (c.vm_id is distinct from v.id or c.ended_at is not null or p.name is distinct from (
        select e.actor from events e where e.vm_id = v.id and e.kind = 'checked_out' order by e.id desc limit 1))`);
    expect(mismatch).toEqual([]);
    const events = await core.db.execute<{ n: number }>(sql`
      select count(*)::int as n from events e join vms v on v.id = e.vm_id where v.pool = 'load' and e.kind = 'checked_out'`);
    expect(events[0]?.n).toBe(100);
  });
});

describe("check-in", () => {
  it("refuses a non-holder and changes nothing", async () => {
    const held = await vmsOfPerson(core, { slackUserId: "UALICE01" });
    const vm = held.ok ? held.value[0]!.name : "";
    const r = await checkin(core, as("UBOB0001"), vm);
    // Everyone may see who holds a VM (HIDE_HOLDERS is off): whom to ask.
    expect(r).toEqual({ ok: false, refusal: { code: "not_holder", vm, holder: expect.objectContaining({ name: "UALICE01", slackUserId: "UALICE01" }) } });
    const still = await vmsOfPerson(core, { slackUserId: "UALICE01" });
    expect(still.ok && still.value.map((v) => v.name)).toEqual([vm]);
  });

  it("does not let a non-admin force a check-in", async () => {
    const held = await vmsOfPerson(core, { slackUserId: "UALICE01" });
    const vm = held.ok ? held.value[0]!.name : "";
    const r = await checkin(core, as("UBOB0001"), vm, { force: true });
    expect(r).toEqual({ ok: false, refusal: { code: "not_admin", operation: "force check-in" } });
  });

  it("tells an admin who holds the VM, and lets them force it on record", async () => {
    const held = await vmsOfPerson(core, { slackUserId: "UALICE01" });
    const vm = held.ok ? held.value[0]!.name : "";
    const refused = await checkin(core, as("UADMIN01"), vm);
    expect(refused).toEqual({ ok: false, refusal: { code: "not_holder", vm, holder: expect.objectContaining({ name: "UALICE01" }) } });
    const r = await checkin(core, as("UADMIN01"), vm, { force: true });
    expect(r).toEqual({
      ok: true,
      value: { vm, pool: expect.any(String), checkoutId: expect.any(Number), previousHolder: expect.objectContaining({ name: "UALICE01" }), forced: true, nextState: "cleaning" },
    });
    const [event] = await core.db.execute(sql`select actor, kind, detail from events where vm_name = ${vm} order by id desc limit 1`);
    expect(event).toMatchObject({ actor: "UADMIN01", kind: "checkin_forced", detail: { previousHolder: "UALICE01" } });
    const notices = await core.db.execute(sql`select kind, payload from outbox where kind = 'checkin_forced'`);
    expect(notices).toEqual([
      {
        kind: "checkin_forced",
        payload: { vm, previousHolder: expect.objectContaining({ name: "UALICE01", slackUserId: "UALICE01" }), by: expect.objectContaining({ name: "UADMIN01" }) },
      },
    ]);
    const [ended] = await core.db.execute(sql`
      select c.end_reason, b.name as ended_by from checkouts c join people b on b.id = c.ended_by
      where c.id = ${r.ok ? r.value.checkoutId : 0}`);
    expect(ended).toEqual({ end_reason: "forced", ended_by: "UADMIN01" });
  });

  it("moves the holder's VM to cleaning, due now", async () => {
    const held = await vmsOfPerson(core, { slackUserId: "UBOB0001" });
    const vm = held.ok ? held.value[0]!.name : "";
    const r = await checkin(core, as("UBOB0001"), vm);
    expect(r.ok).toBe(true);
    const [row] = await core.db.execute(sql`select state, checkout_id, cleanup_next_at <= now() as due from vms where name = ${vm}`);
    expect(row).toEqual({ state: "cleaning", checkout_id: null, due: true });
    const again = await checkin(core, as("UBOB0001"), vm);
    expect(again).toEqual({ ok: false, refusal: { code: "not_checked_out", vm, state: "cleaning" } });
  });

  it("says an unknown VM is unknown", async () => {
    expect(await checkin(core, as("UBOB0001"), "nope")).toEqual({ ok: false, refusal: { code: "unknown_vm", vm: "nope" } });
  });
});

describe("the database itself", () => {
  it("refuses a checkout on a VM that is not checked out", async () => {
    await expect(causeOf(core.db.execute(sql`update vms set checkout_id = (select max(id) from checkouts) where state <> 'checked_out'`))).resolves.toMatch(
      /vms_checkout_iff_checked_out|vms_checkout_of_this_vm/,
    );
  });

  it("refuses a second open checkout of one VM, and a VM naming another VM's checkout", async () => {
    const [held] = await core.db.execute<{ id: number; vm_id: number; person_id: number; pool: string }>(
      sql`select id, vm_id, person_id, pool from checkouts where ended_at is null limit 1`,
    );
    if (!held) throw new Error("no open checkout");
    await expect(
      causeOf(core.db.execute(sql`insert into checkouts (vm_id, person_id, pool) values (${held.vm_id}, ${held.person_id}, ${held.pool})`)),
    ).resolves.toMatch(/checkouts_one_open_per_vm/);
    await expect(
      causeOf(core.db.execute(sql`update vms set checkout_id = ${held.id} where state = 'checked_out' and id <> ${held.vm_id}`)),
    ).resolves.toMatch(/vms_checkout_of_this_vm/);
  });

  it("refuses to change or delete events", async () => {
    await expect(causeOf(core.db.execute(sql`update events set actor = 'x'`))).resolves.toMatch(/append-only/);
    await expect(causeOf(core.db.execute(sql`delete from events`))).resolves.toMatch(/append-only/);
  });
});

/** The database's own message for a failed query (drizzle wraps it as the cause). */
async function causeOf(query: Promise<unknown>): Promise<string> {
  try {
    await query;
  } catch (err) {
    return String((err as { cause?: { message?: string } }).cause?.message ?? err);
  }
  return "query succeeded";
}

describe("a check-in that names its checkout", () => {
  it("acts on that checkout only, never on a later one of the same VM", async () => {
    await addPool("stale", 1);
    const first = await checkout(core, as("USTALE01"), { pool: "stale" });
    if (!first.ok) throw new Error("no VM");
    const vm = first.value.name;
    expect((await checkin(core, as("USTALE01"), vm, { checkoutId: first.value.checkoutId })).ok).toBe(true);
    await core.db.execute(sql`update vms set state = 'available', cleanup_next_at = null where name = ${vm}`);
    const second = await checkout(core, as("USTALE01"), { pool: "stale" });
    expect(second.ok && second.value.name).toBe(vm);
    expect(second.ok && second.value.checkoutId).not.toBe(first.value.checkoutId);

    const late = await checkin(core, as("USTALE01"), vm, { checkoutId: first.value.checkoutId });
    const ended = { code: "checkout_ended", vm, checkoutId: first.value.checkoutId, endedBy: expect.objectContaining({ slackUserId: "USTALE01" }), endReason: "checked_in", state: "checked_out", yoursAgain: true };
    expect(late).toMatchObject({ ok: false, refusal: ended });
    const [row] = await core.db.execute(sql`select state, (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) as holder from vms where name = ${vm}`);
    expect(row).toEqual({ state: "checked_out", holder: "USTALE01" });
    if (second.ok) expect((await checkin(core, as("USTALE01"), vm, { checkoutId: second.value.checkoutId })).ok).toBe(true);
  });

  it("a check-in of a checkout an admin took back says when, by whom and how it ended, and that the VM is being cleaned, not that it went to someone else", async () => {
    await addPool("taken", 1);
    const mine = await checkout(core, as("UTAKEN01"), { pool: "taken" });
    if (!mine.ok) throw new Error("no VM");
    const forced = await checkin(core, as("UADMIN01"), mine.value.name, { force: true });
    expect(forced.ok).toBe(true);

    const late = await checkin(core, as("UTAKEN01"), mine.value.name, { checkoutId: mine.value.checkoutId });
    expect(late).toMatchObject({
      ok: false,
      refusal: { code: "checkout_ended", vm: mine.value.name, checkoutId: mine.value.checkoutId, endedBy: { name: "UADMIN01" }, endReason: "forced", state: "cleaning", yoursAgain: false },
    });
    if (!late.ok && late.refusal.code === "checkout_ended") expect(late.refusal.endedAt).toBeInstanceOf(Date);
  });
});
