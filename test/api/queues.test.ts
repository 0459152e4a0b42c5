import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

let h: Harness;
let alice: { token: string; personId: number };
let bob: { token: string; personId: number };
let admin: { token: string; personId: number };

beforeAll(async () => {
  h = await startApiHarness();
  alice = await personWithToken(h.core, "alice");
  bob = await personWithToken(h.core, "bob");
  admin = await personWithToken(h.core, "root-api", { admin: true });
  await addVms(h.core, "one", 1);
});
afterAll(async () => h?.stop());

describe("the waitlist over HTTP", () => {
  it("joins a queue (201, then 200 already), is offered the freed VM and takes it; GET /v1/queues and /v1/me show the place", async () => {
    const held = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "one" } });
    expect(held.status).toBe(201);
    const joined = await call(h, "POST", "/v1/queues", { token: bob.token, body: { pool: "one", note: "after alice" } });
    expect(joined.status).toBe(201);
    expect(joined.body).toMatchObject({ pool: "one", position: 1, state: "waiting", already: false });
    const again = await call(h, "POST", "/v1/queues", { token: bob.token, body: { pool: "one" } });
    expect(again.status).toBe(200);
    expect(again.body.already).toBe(true);
    expect((await call(h, "GET", "/v1/queues", { token: bob.token })).body).toEqual([expect.objectContaining({ id: joined.body.id, pool: "one" })]);
    expect((await call(h, "GET", "/v1/me", { token: bob.token })).body.queues).toEqual([expect.objectContaining({ id: joined.body.id })]);

    // alice gives it back; an admin repairs nothing: the VM is cleaned (no worker here), so it is made available by hand, then swept to bob.
    expect((await call(h, "DELETE", `/v1/checkouts/${held.body.id}`, { token: alice.token })).status).toBe(200);
    await h.core.db.execute(sql`update vms set state = 'available', cleanup_next_at = null where name = 'one-1'`);
    await sweepLeases(h.core);
    const offered = await call(h, "GET", "/v1/queues", { token: bob.token });
    expect(offered.body[0]).toMatchObject({ state: "offered", offeredVm: "one-1" });
    const notYours = await call(h, "POST", `/v1/queues/${joined.body.id}/take`, { token: alice.token });
    expect(notYours.status).toBe(403);
    expect(notYours.body.code).toBe("not_your_offer");
    const taken = await call(h, "POST", `/v1/queues/${joined.body.id}/take`, { token: bob.token });
    expect(taken.status).toBe(201);
    expect(taken.body).toMatchObject({ vm: "one-1", note: "after alice" });
    const over = await call(h, "POST", `/v1/queues/${joined.body.id}/pass`, { token: bob.token });
    expect(over.status).toBe(410);
    expect(over.body.code).toBe("offer_over");
  });

  it("leaves a queue (DELETE /v1/queues?pool=), and says so when in none (409 not_waiting, nothing changed)", async () => {
    const joined = await call(h, "POST", "/v1/queues", { token: alice.token, body: { pool: "one" } });
    expect(joined.status).toBe(201);
    const left = await call(h, "DELETE", "/v1/queues?pool=one", { token: alice.token });
    expect(left.body).toEqual({ left: ["one"] });
    const before = await snapshot(h.core);
    const none = await call(h, "DELETE", "/v1/queues", { token: alice.token });
    expect(none.status).toBe(409);
    expect(none.body).toMatchObject({ code: "not_waiting", pool: null });
    expect(await snapshot(h.core)).toBe(before);
    const unknown = await call(h, "POST", "/v1/queues", { token: alice.token, body: { pool: "nope" } });
    expect(unknown.status).toBe(404);
  });
});

describe("extend with until and pin", () => {
  it("lets admins set an end or pin a lease (the holder may not), and refuses two at once", async () => {
    const [c] = (await call(h, "GET", "/v1/checkouts?open=true&user=bob", { token: bob.token })).body;
    const until = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const holder = await call(h, "POST", `/v1/checkouts/${c.id}/extend`, { token: bob.token, body: { until } });
    expect(holder.status).toBe(403);
    expect(holder.body.code).toBe("not_admin");
    const set = await call(h, "POST", `/v1/checkouts/${c.id}/extend`, { token: admin.token, body: { until } });
    expect(set.status).toBe(200);
    expect(set.body.endsAt).toBe(until);
    const pinned = await call(h, "POST", `/v1/checkouts/${c.id}/extend`, { token: admin.token, body: { pin: true } });
    expect(pinned.body.endsAt).toBeNull();
    const both = await call(h, "POST", `/v1/checkouts/${c.id}/extend`, { token: admin.token, body: { by: "1h", pin: true } });
    expect(both.status).toBe(422);
    const pinnedExt = await call(h, "POST", `/v1/checkouts/${c.id}/extend`, { token: bob.token, body: { by: "1h" } });
    expect(pinnedExt.status).toBe(409);
    expect(pinnedExt.body.code).toBe("lease_not_extended");
  });
});
