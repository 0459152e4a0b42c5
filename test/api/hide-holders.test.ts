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
