import { afterAll, beforeAll, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

// What the web page shows beside the counts: a pool's next booking, a VM's SSH line and its
// checkout's note. The page adds no rule, so the API answers them (the core decides who sees what).
let h: Harness;
const HOUR = 3_600_000;
const at = (hours: number) => new Date(Math.ceil(Date.now() / HOUR) * HOUR + hours * HOUR).toISOString();

beforeAll(async () => {
  h = await startApiHarness();
  await addVms(h.core, "gpu", 2);
  await addVms(h.core, "cpu", 1);
}, 60_000);
afterAll(async () => h?.stop());

it("a pool's answer names its next booking not started yet, soonest first, and null for a pool with none", async () => {
  const erin = await personWithToken(h.core, "erin");
  for (const [label, from, to] of [["later-1", 30, 32], ["soon-1", 24, 26]] as const) {
    const booked = await call(h, "POST", "/v1/reservations", { token: erin.token, body: { pool: "gpu", count: 1, from: at(from), to: at(to), label } });
    expect(booked.status).toBe(201);
  }
  const pools = await call(h, "GET", "/v1/pools", { token: erin.token });
  expect(pools.status).toBe(200);
  const byName = Object.fromEntries(pools.body.map((p: { name: string }) => [p.name, p]));
  expect(byName.gpu.nextBooking).toEqual({ label: "soon-1", person: expect.objectContaining({ name: "erin" }), count: 1, from: at(24), to: at(26) });
  expect(byName.cpu.nextBooking).toBeNull();
  expect((await call(h, "GET", "/v1/pools/gpu", { token: erin.token })).body.nextBooking.label).toBe("soon-1");
});

it("a VM's answer carries its SSH line and its checkout's note, in the list, one VM and /v1/me", async () => {
  const fay = await personWithToken(h.core, "fay");
  const out = await call(h, "POST", "/v1/checkouts", { token: fay.token, body: { pool: "cpu", note: "kernel bisect" } });
  expect(out.status).toBe(201);
  const one = await call(h, "GET", `/v1/vms/${out.body.vm}`, { token: fay.token });
  expect(one.body).toMatchObject({ note: "kernel bisect", ssh: out.body.ssh });
  const listed = await call(h, "GET", "/v1/vms?pool=cpu", { token: fay.token });
  expect(listed.body[0]).toMatchObject({ name: out.body.vm, note: "kernel bisect", ssh: out.body.ssh });
  const me = await call(h, "GET", "/v1/me", { token: fay.token });
  expect(me.body.holds[0]).toMatchObject({ name: out.body.vm, note: "kernel bisect", ssh: out.body.ssh });
  const free = await call(h, "GET", "/v1/vms?pool=gpu", { token: fay.token });
  expect(free.body[0]).toMatchObject({ note: null, ssh: expect.stringMatching(/^ssh \S+@\S+ -p \d+$/) });
});

it("a pool says whether it is provisioned, so the page offers a checkout (a create) in one with no VM ready", async () => {
  const made = await setProvisioning(h.core, { person: "operator", source: "cli" }, "cloud", { provider: "command", image: "base", maxSize: 2, providerSettings: {} }, () => null);
  expect(made.ok).toBe(true);
  const pools = await call(h, "GET", "/v1/pools", { token: (await personWithToken(h.core, "gwen")).token });
  const kinds = Object.fromEntries(pools.body.map((p: { name: string; kind: string }) => [p.name, p.kind]));
  expect(kinds).toMatchObject({ cloud: "provisioned", cpu: "static", gpu: "static" });
});

