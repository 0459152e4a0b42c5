import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

// HIDE_HOLDERS is the core's rule: the API follows it without a line of its own.
let h: Harness;
beforeAll(async () => {
  h = await startApiHarness({ HIDE_HOLDERS: "true" });
  await addVms(h.core, "default", 2);
});
afterAll(async () => h?.stop());

it("with HIDE_HOLDERS, a token sees its own checkouts and holders but not others', and an admin's sees all", async () => {
  const alice = await personWithToken(h.core, "alice");
  const bob = await personWithToken(h.core, "bob");
  const admin = await personWithToken(h.core, "root-api", { admin: true });
  const c = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: {} });
  expect(c.status).toBe(201);
  expect((await call(h, "GET", `/v1/checkouts/${c.body.id}`, { token: alice.token })).status).toBe(200);
  const hidden = await call(h, "GET", `/v1/checkouts/${c.body.id}`, { token: bob.token });
  expect(hidden.status).toBe(404);
  expect(hidden.body.code).toBe("unknown_checkout");
  expect((await call(h, "GET", "/v1/checkouts", { token: bob.token })).body).toEqual([]);
  expect((await call(h, "GET", `/v1/vms/${c.body.vm}`, { token: bob.token })).body).toMatchObject({ state: "checked_out", holder: null });
  expect((await call(h, "GET", `/v1/vms/${c.body.vm}`, { token: admin.token })).body.holder).toMatchObject({ name: "alice" });
  const history = await call(h, "GET", `/v1/vms/${c.body.vm}/events`, { token: bob.token });
  expect(history.status).toBe(403);
  const notHers = await call(h, "DELETE", `/v1/checkouts/${c.body.id}`, { token: bob.token });
  expect(notHers.status).toBe(403);
  expect(notHers.body).toMatchObject({ code: "not_holder", holder: null });
});

it("with HIDE_HOLDERS, ?user=someone-else lists none of their bookings, and others' bookings carry no name or note", async () => {
  const carol = await personWithToken(h.core, "carol");
  const dave = await personWithToken(h.core, "dave");
  const admin = await personWithToken(h.core, "root-books", { admin: true });
  const from = new Date(Date.now() + 2 * 3_600_000).toISOString();
  const to = new Date(Date.now() + 3 * 3_600_000).toISOString();
  const booked = await call(h, "POST", "/v1/reservations", { token: carol.token, body: { pool: "default", count: 1, from, to, label: "carol-demo", note: "customer demo" } });
  expect(booked.status).toBe(201);

  const filtered = await call(h, "GET", "/v1/reservations?user=carol", { token: dave.token });
  expect(filtered.status).toBe(200);
  expect(filtered.body).toEqual([]);
  const listed = await call(h, "GET", "/v1/reservations", { token: dave.token });
  expect(listed.body.find((r: { label: string }) => r.label === "carol-demo")).toMatchObject({ person: null, note: null });
  expect((await call(h, "GET", "/v1/reservations?user=me", { token: carol.token })).body).toMatchObject([{ label: "carol-demo", note: "customer demo", person: { name: "carol" } }]);
  expect((await call(h, "GET", "/v1/reservations?user=carol", { token: admin.token })).body).toMatchObject([{ label: "carol-demo", note: "customer demo" }]);
  await call(h, "DELETE", "/v1/reservations/carol-demo", { token: carol.token });
});

it("a VM's cleanup output is shown to admins only", async () => {
  const erin = await personWithToken(h.core, "erin");
  const admin = await personWithToken(h.core, "root-cleanup", { admin: true });
  await h.core.db.execute(sql`update vms set state = 'quarantined', cleanup_last_error = 'rm: cannot remove /tmp/alice-keys' where name = 'default-2'`);
  try {
    const list = await call(h, "GET", "/v1/vms?state=quarantined", { token: erin.token });
    expect(list.body).toMatchObject([{ name: "default-2", state: "quarantined", cleanupLastError: null }]);
    expect((await call(h, "GET", "/v1/vms/default-2", { token: erin.token })).body.cleanupLastError).toBeNull();
    expect((await call(h, "GET", "/v1/vms/default-2", { token: admin.token })).body.cleanupLastError).toBe("rm: cannot remove /tmp/alice-keys");
  } finally {
    await h.core.db.execute(sql`update vms set state = 'available', cleanup_last_error = null where name = 'default-2'`);
  }
});

it("with HIDE_HOLDERS, the note of someone else's checkout is hidden with its holder, and the holder and admins see it", async () => {
  const gil = await personWithToken(h.core, "gil");
  const hal = await personWithToken(h.core, "hal");
  const admin = await personWithToken(h.core, "root-notes", { admin: true });
  const c = await call(h, "POST", "/v1/checkouts", { token: gil.token, body: { note: "secret project" } });
  expect(c.status).toBe(201);
  expect((await call(h, "GET", `/v1/vms/${c.body.vm}`, { token: gil.token })).body).toMatchObject({ holder: { name: "gil" }, note: "secret project" });
  expect((await call(h, "GET", `/v1/vms/${c.body.vm}`, { token: hal.token })).body).toMatchObject({ holder: null, note: null });
  const listed = await call(h, "GET", "/v1/vms", { token: hal.token });
  expect(listed.body.find((v: { name: string }) => v.name === c.body.vm)).toMatchObject({ holder: null, note: null });
  expect((await call(h, "GET", `/v1/vms/${c.body.vm}`, { token: admin.token })).body.note).toBe("secret project");
  expect((await call(h, "DELETE", `/v1/checkouts/${c.body.id}`, { token: gil.token })).status).toBe(200);
});

it("with HIDE_HOLDERS, a pool's next booking does not say who booked it, except to them and admins", async () => {
  const ida = await personWithToken(h.core, "ida");
  const jon = await personWithToken(h.core, "jon");
  const from = new Date(Date.now() + 1 * 3_600_000).toISOString();
  const to = new Date(Date.now() + 1.5 * 3_600_000).toISOString();
  const booked = await call(h, "POST", "/v1/reservations", { token: ida.token, body: { pool: "default", count: 1, from, to, label: "ida-first" } });
  expect(booked.status).toBe(201);
  const next = async (token: string) => (await call(h, "GET", "/v1/pools/default", { token })).body.nextBooking;
  expect(await next(jon.token)).toMatchObject({ label: "ida-first", person: null });
  expect(await next(ida.token)).toMatchObject({ label: "ida-first", person: { name: "ida" } });
});
