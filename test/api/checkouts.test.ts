import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setPool } from "../../src/core/admin.js";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

const OPERATOR = { person: "operator", source: "cli" } as const;

let h: Harness;
let alice: { token: string; personId: number };
let bob: { token: string; personId: number };
let admin: { token: string; personId: number };

beforeAll(async () => {
  h = await startApiHarness();
  alice = await personWithToken(h.core, "alice");
  bob = await personWithToken(h.core, "bob");
  admin = await personWithToken(h.core, "root-api", { admin: true });
  await addVms(h.core, "default", 5);
  await addVms(h.core, "solo", 1);
  await addVms(h.core, "gpu", 2);
  const quota = await setPool(h.core, OPERATOR, "gpu", { quota: 2, maxLeaseMs: 86_400_000 });
  if (!quota.ok) throw new Error(JSON.stringify(quota.refusal));
  const many = await setPool(h.core, OPERATOR, "default", { quota: 5 });
  if (!many.ok) throw new Error(JSON.stringify(many.refusal));
});
afterAll(async () => h?.stop());

const openCheckouts = async (personId: number) => {
  const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from checkouts where person_id = ${personId} and ended_at is null`);
  return row?.n ?? 0;
};

describe("POST /v1/checkouts", () => {
  it("lends a VM: 201 with its checkout id, IP, SSH user and port and the ssh line, on record as the API", async () => {
    const r = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "gpu", note: "release test", for: "2h" } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ pool: "gpu", sshUser: "root", sshPort: 22, note: "release test" });
    expect(r.body.ssh).toBe(`ssh root@${r.body.ip} -p 22`);
    expect(new Date(r.body.endsAt).getTime() - new Date(r.body.startedAt).getTime()).toBe(2 * 3_600_000);
    const [event] = await h.core.db.execute<{ actor: string; source: string }>(sql`select actor, source from events where kind = 'checked_out' and (detail->>'checkout')::int = ${r.body.id}`);
    expect(event).toEqual({ actor: "alice", source: "api" });
  });

  it("refuses what the core refuses, as problem+json with the refusal's code and facts, changing nothing", async () => {
    const before = await snapshot(h.core);
    const unknownPool = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "nope" } });
    expect(unknownPool.status).toBe(404);
    expect(unknownPool.headers.get("content-type")).toContain("application/problem+json");
    expect(unknownPool.body).toMatchObject({ code: "unknown_pool", pool: "nope", status: 404, type: expect.stringContaining("unknown_pool") });
    expect(unknownPool.body.known).toEqual(["default", "gpu", "solo"]);
    const badName = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "Not A Pool" } });
    expect(badName.status).toBe(422);
    expect(badName.body).toMatchObject({ code: "invalid_input", field: "pool" });
    const tooLong = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "gpu", for: "3d" } });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body).toMatchObject({ code: "lease_too_long", pool: "gpu", maxMs: 86_400_000 });
    // As people write durations (1d), not "1440 minutes".
    expect(tooLong.body.detail).toBe(`longer than pool "gpu" allows (at most 1d from the checkout's start)`);
    expect(await snapshot(h.core)).toBe(before);
  });

  it("holds the pool's quota (409 quota_reached naming the VMs held) and says when no VM is free (409 no_vm_free with counts)", async () => {
    const second = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "gpu" } });
    expect(second.status).toBe(201);
    const third = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "gpu" } });
    expect(third.status).toBe(409);
    expect(third.body).toMatchObject({ code: "quota_reached", pool: "gpu", quota: 2 });
    expect(third.body.held).toHaveLength(2);
    const none = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { pool: "gpu" } });
    expect(none.status).toBe(409);
    expect(none.body).toMatchObject({ code: "no_vm_free", pool: "gpu", counts: { checked_out: 2, available: 0 } });
    expect(await openCheckouts(alice.personId)).toBe(2);
    expect(await openCheckouts(bob.personId)).toBe(0);
  });

  it("waits with {wait}: answers 201 once a VM comes to the pool, and 409 no_vm_free (out of the queue) when the wait ends first", async () => {
    const solo = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { pool: "solo" } });
    expect(solo.status).toBe(201);
    const timedOut = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "solo", wait: "1s" } });
    expect(timedOut.status).toBe(409);
    expect(timedOut.body.code).toBe("no_vm_free");
    const [left] = await h.core.db.execute<{ state: string }>(sql`select w.state from waiters w join people p on p.id = w.person_id where p.name = 'alice' and w.pool = 'solo'`);
    expect(left?.state).toBe("left");

    const waiting = call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "solo", wait: "2m", note: "waited" } });
    // Someone waits in the queue: then an admin adds a VM to the pool, which goes to the waiter.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [w] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from waiters where pool = 'solo' and state = 'waiting'`);
      if (w?.n === 1 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const added = await call(h, "POST", "/v1/vms", { token: admin.token, body: { name: "solo-2", ip: "127.0.0.9", pool: "solo" } });
    expect(added.status).toBe(201);
    const got = await waiting;
    expect(got.status).toBe(201);
    expect(got.body).toMatchObject({ vm: "solo-2", pool: "solo", note: "waited" });
  });

  it("refuses a wait longer than 30 minutes, naming the field", async () => {
    const r = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "solo", wait: "2h" } });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: "invalid_input", field: "wait" });
  });
});

describe("GET /v1/checkouts", () => {
  it("lists checkouts, filtered to open ones of a person, and shows one by id", async () => {
    const mine = await call(h, "GET", "/v1/checkouts?open=true&user=me", { token: alice.token });
    expect(mine.status).toBe(200);
    expect(mine.body.length).toBe(await openCheckouts(alice.personId));
    expect(mine.body.every((c: { person: { name: string }; endedAt: unknown }) => c.person.name === "alice" && c.endedAt === null)).toBe(true);
    const byName = await call(h, "GET", "/v1/checkouts?user=bob", { token: alice.token });
    expect(byName.body.map((c: { person: { name: string } }) => c.person.name)).toEqual(byName.body.map(() => "bob"));
    const one = await call(h, "GET", `/v1/checkouts/${mine.body[0].id}`, { token: bob.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: mine.body[0].id, vm: mine.body[0].vm, person: { name: "alice" } });
    const missing = await call(h, "GET", "/v1/checkouts/999999", { token: alice.token });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: "unknown_checkout", id: 999999 });
    const unknownUser = await call(h, "GET", "/v1/checkouts?user=nobody", { token: alice.token });
    expect(unknownUser.status).toBe(404);
    expect(unknownUser.body.code).toBe("unknown_person");
  });
});

describe("POST /v1/checkouts/{id}/extend and DELETE /v1/checkouts/{id}", () => {
  it("extends the holder's lease by `by`; refuses others (403 not_holder) and past the pool's maximum (422)", async () => {
    const c = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { pool: "default", for: "1h" } });
    expect(c.status).toBe(201);
    const ext = await call(h, "POST", `/v1/checkouts/${c.body.id}/extend`, { token: bob.token, body: { by: "30m" } });
    expect(ext.status).toBe(200);
    expect(new Date(ext.body.endsAt).getTime() - new Date(c.body.endsAt).getTime()).toBe(30 * 60_000);
    const before = await snapshot(h.core);
    const other = await call(h, "POST", `/v1/checkouts/${c.body.id}/extend`, { token: alice.token, body: { by: "30m" } });
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ code: "not_holder", vm: c.body.vm });
    const tooFar = await call(h, "POST", `/v1/checkouts/${c.body.id}/extend`, { token: bob.token, body: { by: "3650d" } });
    expect(tooFar.status).toBe(422);
    expect(tooFar.body.code).toBe("lease_too_long");
    expect(await snapshot(h.core)).toBe(before);
  });

  it("checks in the holder's VM (200, VM cleaning); another person gets 403 not_holder, a force without admin 403 not_admin", async () => {
    const c = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { pool: "default" } });
    expect(c.status).toBe(201);
    const before = await snapshot(h.core);
    const other = await call(h, "DELETE", `/v1/checkouts/${c.body.id}`, { token: alice.token });
    expect(other.status).toBe(403);
    expect(other.body.code).toBe("not_holder");
    const forced = await call(h, "DELETE", `/v1/checkouts/${c.body.id}?force=true`, { token: alice.token });
    expect(forced.status).toBe(403);
    expect(forced.body).toMatchObject({ code: "not_admin" });
    expect(await snapshot(h.core)).toBe(before);
    const mine = await call(h, "DELETE", `/v1/checkouts/${c.body.id}`, { token: bob.token });
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ id: c.body.id, vm: c.body.vm, forced: false, nextState: "cleaning", previousHolder: { name: "bob" } });
    const again = await call(h, "DELETE", `/v1/checkouts/${c.body.id}`, { token: bob.token });
    expect(again.status).toBe(410);
    // It says what happened to that checkout, not that the VM (only being cleaned) went to someone else.
    expect(again.body).toMatchObject({ code: "checkout_ended", vm: c.body.vm, checkoutId: c.body.id, endedBy: { name: "bob" }, endReason: "checked_in", state: "cleaning", yoursAgain: false });
    expect(Date.parse(again.body.endedAt)).not.toBeNaN();
    expect(again.body.detail).not.toContain("checked out again");
    expect(again.body.detail).toContain("by bob (checked in)");
    const [vm] = await h.core.db.execute<{ state: string }>(sql`select state from vms where name = ${c.body.vm}`);
    expect(vm?.state).toBe("cleaning");
  });

  it("lets an admin force a check-in, on record (end reason forced, by the admin, through the API)", async () => {
    const c = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { pool: "default" } });
    expect(c.status).toBe(201);
    const forced = await call(h, "DELETE", `/v1/checkouts/${c.body.id}?force=true`, { token: admin.token });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ forced: true, previousHolder: { name: "bob" } });
    const [row] = await h.core.db.execute<{ end_reason: string; ended_by: string }>(
      sql`select c.end_reason, p.name as ended_by from checkouts c join people p on p.id = c.ended_by where c.id = ${c.body.id}`,
    );
    expect(row).toEqual({ end_reason: "forced", ended_by: "root-api" });
    const [event] = await h.core.db.execute<{ source: string; actor: string }>(sql`select source, actor from events where kind = 'checkin_forced' and vm_name = ${c.body.vm} order by id desc limit 1`);
    expect(event).toMatchObject({ source: "api", actor: "root-api" });
  });

  it("answers 404 unknown_checkout for an id that names no checkout, and 400 naming `id` for one that is not a number", async () => {
    const none = await call(h, "DELETE", "/v1/checkouts/424242", { token: bob.token });
    expect(none.status).toBe(404);
    expect(none.body.code).toBe("unknown_checkout");
    const bad = await call(h, "POST", "/v1/checkouts/abc/extend", { token: bob.token, body: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe("id");
  });
});

describe("a VM's checkout start: startedAt, and checkedOutAt deprecated", () => {
  it("answers startedAt and the deprecated checkedOutAt with the same value, the checkout's start, and the OpenAPI document marks checkedOutAt deprecated", async () => {
    const carol = await personWithToken(h.core, "carol");
    await addVms(h.core, "started", 2);
    const out = await call(h, "POST", "/v1/checkouts", { token: carol.token, body: { pool: "started" } });
    expect(out.status).toBe(201);
    const [row] = await h.core.db.execute<{ started: string }>(sql`select to_json(started_at)#>>'{}' as started from checkouts where id = ${out.body.id}`);
    const started = new Date(row!.started).toISOString();
    expect(out.body.startedAt).toBe(started);

    const [one, all, me] = await Promise.all([
      call(h, "GET", `/v1/vms/${out.body.vm}`, { token: carol.token }),
      call(h, "GET", "/v1/vms?pool=started", { token: carol.token }),
      call(h, "GET", "/v1/me", { token: carol.token }),
    ]);
    const listed = all.body as { name: string; startedAt: string | null; checkedOutAt: string | null }[];
    for (const vm of [one.body, listed.find((v) => v.name === out.body.vm), me.body.holds[0]]) {
      expect(vm).toMatchObject({ name: out.body.vm, startedAt: started, checkedOutAt: started });
    }
    // A VM nobody holds: both null.
    expect(listed.find((v) => v.name !== out.body.vm)).toMatchObject({ startedAt: null, checkedOutAt: null });

    const vmSchema = (await call(h, "GET", "/openapi.json")).body.components.schemas.Vm;
    expect(vmSchema.properties.checkedOutAt.deprecated).toBe(true);
    expect(vmSchema.properties.startedAt.deprecated).toBeUndefined();
    expect(vmSchema.required).toEqual(expect.arrayContaining(["startedAt", "checkedOutAt"]));
  });
});
