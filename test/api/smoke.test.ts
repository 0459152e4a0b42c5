import { afterAll, beforeAll, expect, it } from "vitest";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => h?.stop());

it("smoke", async () => {
  await addVms(h.core, "default", 2);
  const alice = await personWithToken(h.core, "alice");
  const r = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: {} });
  console.log(r.status, r.body);
  const bad = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: 3, extra: 1 } });
  console.log(bad.status, JSON.stringify(bad.body));
  const none = await call(h, "GET", "/v1/me");
  console.log(none.status, none.body);
  const doc = await call(h, "GET", "/openapi.json");
  console.log(doc.status, Object.keys(doc.body.paths));
  const docs = await call(h, "GET", "/docs");
  console.log(docs.status, String(docs.body).slice(0, 100));
  const hz = await call(h, "GET", "/healthz");
  console.log(hz.status);
  expect(r.status).toBe(201);
});
