import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { cliFor, type CliRun } from "../helpers/cli.js";
import { call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

/**
 * Bookings over the API, and the CLI's reserve / reservations / reservation
 * cancel going through it: the same rules as Slack and the database CLI (the
 * core's), the refusal with what is free and the nearest range, someone
 * else's booking refused, an admin's cancel on record.
 */
let h: Harness;
let erin: string;
let frank: string;
let admin: string;
const HOUR = 3_600_000;
const at = (hours: number) => new Date(Math.ceil(Date.now() / HOUR) * HOUR + hours * HOUR).toISOString();
const summary = (r: CliRun) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

beforeAll(async () => {
  h = await startApiHarness();
  erin = (await personWithToken(h.core, "erin")).token;
  frank = (await personWithToken(h.core, "frank")).token;
  admin = (await personWithToken(h.core, "boss", { admin: true })).token;
  for (const [i, name] of ["gpu-1", "gpu-2"].entries()) {
    const added = await addVm(h.core, { person: "operator", source: "cli" }, { name, ip: `198.51.100.${60 + i}`, pool: "gpu", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
    expect(added.ok).toBe(true);
  }
}, 60_000);
afterAll(async () => h?.stop());

describe("/v1/reservations", { timeout: 60_000 }, () => {
  it("books concrete VMs, refuses an overlap saying what is free and where it would fit, and lists", async () => {
    const booked = await call(h, "POST", "/v1/reservations", { token: erin, body: { pool: "gpu", count: 2, from: at(24), to: at(32), label: "demo-1", note: "release demo" } });
    expect(booked.status).toBe(201);
    expect(booked.body).toMatchObject({ label: "demo-1", person: { name: "erin" }, pool: "gpu", count: 2, state: "booked", vms: ["gpu-1", "gpu-2"] });

    const before = await snapshot(h.core);
    const overlap = await call(h, "POST", "/v1/reservations", { token: frank, body: { pool: "gpu", count: 1, from: at(30), to: at(34), label: "demo-2" } });
    expect(overlap.status).toBe(409);
    expect(overlap.body).toMatchObject({ code: "not_enough_free", pool: "gpu", count: 1, free: 0, nearest: { from: at(32), to: at(36) } });
    const taken = await call(h, "POST", "/v1/reservations", { token: frank, body: { pool: "gpu", count: 1, from: at(40), to: at(41), label: "demo-1" } });
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({ code: "label_taken" });
    const bad = await call(h, "POST", "/v1/reservations", { token: frank, body: { pool: "gpu", count: 0, from: at(40), to: at(41), label: "x" } });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe("count");
    expect(await snapshot(h.core)).toBe(before);

    const mine = await call(h, "GET", "/v1/reservations?user=me", { token: erin });
    expect(mine.body.map((r: { label: string }) => r.label)).toEqual(["demo-1"]);
    expect((await call(h, "GET", "/v1/reservations?user=me", { token: frank })).body).toEqual([]);
  });

  it("cancels: someone else's is refused (403), the person's or an admin's goes", async () => {
    const other = await call(h, "DELETE", "/v1/reservations/demo-1", { token: frank });
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ code: "not_your_reservation", label: "demo-1" });
    const byAdmin = await call(h, "DELETE", "/v1/reservations/demo-1", { token: admin });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body).toMatchObject({ byAdmin: true, kept: [], reservation: { label: "demo-1", state: "cancelled" } });
    expect((await call(h, "DELETE", "/v1/reservations/demo-1", { token: erin })).body).toMatchObject({ code: "unknown_reservation" });
  });

  it("lists each booked VM with its own range, and only the bookings that overlap a calendar's window", async () => {
    const early = await call(h, "POST", "/v1/reservations", { token: erin, body: { pool: "gpu", count: 1, from: at(100), to: at(103), label: "cal-early" } });
    expect(early.status).toBe(201);
    expect(early.body.ranges).toEqual([{ vm: early.body.vms[0], from: at(100), to: at(103), given: false }]);
    const late = await call(h, "POST", "/v1/reservations", { token: erin, body: { pool: "gpu", count: 2, from: at(110), to: at(112), label: "cal-late" } });
    expect(late.status).toBe(201);

    const window = async (from: string, to: string) => {
      const res = await call(h, "GET", `/v1/reservations?pool=gpu&all=true&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, { token: frank });
      expect(res.status).toBe(200);
      return res.body as { label: string; ranges: unknown[] }[];
    };
    const both = await window(at(102), at(111));
    expect(both.map((r) => r.label).sort()).toEqual(["cal-early", "cal-late"]);
    expect(both.find((r) => r.label === "cal-late")?.ranges).toEqual([
      { vm: "gpu-1", from: at(110), to: at(112), given: false },
      { vm: "gpu-2", from: at(110), to: at(112), given: false },
    ]);
    // A range is half-open: a booking ending when the window starts is not in it.
    expect((await window(at(103), at(110))).map((r) => r.label)).toEqual([]);
    expect((await window(at(90), at(101))).map((r) => r.label)).toEqual(["cal-early"]);

    const backwards = await call(h, "GET", `/v1/reservations?from=${encodeURIComponent(at(111))}&to=${encodeURIComponent(at(102))}`, { token: frank });
    expect(backwards.status).toBe(422);
    expect(backwards.body).toMatchObject({ code: "invalid_input", field: "to" });
    const notATime = await call(h, "GET", "/v1/reservations?from=tomorrow", { token: frank });
    expect(notATime.status).toBe(400);
    expect(notATime.body.detail).toContain("from");
    for (const label of ["cal-early", "cal-late"]) expect((await call(h, "DELETE", `/v1/reservations/${label}`, { token: erin })).status).toBe(200);
  });
});

describe("vmres reserve, reservations and reservation cancel over the API", { timeout: 120_000 }, () => {
  it("book, list and cancel as the token's person, with the words and JSON of direct mode", async () => {
    const vmres = cliFor({ env: { VMRES_URL: h.url, VMRES_TOKEN: erin } });
    const direct = cliFor({ databaseUrl: h.database.url });
    const r = await vmres(["reserve", "--pool", "gpu", "--count", "1", "--from", at(50), "--to", at(52), "--label", "train-1"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toMatch(/^Booked "train-1" for erin: 1 VM of pool gpu/);
    const [a, d] = [await vmres(["reservations", "--json"]), await direct(["reservations", "--json"])];
    expect(a.code, summary(a)).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(d.stdout));
    const refused = await vmres(["reserve", "--pool", "gpu", "--count", "2", "--from", at(50), "--to", at(52), "--label", "train-2"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('Cannot book 2 VMs of pool "gpu"');
    const notMine = await cliFor({ env: { VMRES_URL: h.url, VMRES_TOKEN: frank } })(["reservation", "cancel", "train-1"]);
    expect(notMine.code).toBe(3);
    const cancelled = await vmres(["reservation", "cancel", "train-1"]);
    expect(cancelled.code, summary(cancelled)).toBe(0);
    expect(cancelled.stdout).toMatch(/^Cancelled the booking "train-1"/);
    // Named VMs: --vm (repeatable) books those, the count being their number.
    const named = await vmres(["reserve", "--pool", "gpu", "--vm", "gpu-2", "--from", at(60), "--to", at(61), "--label", "named-1", "--json"]);
    expect(named.code, summary(named)).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({ count: 1, vms: ["gpu-2"] });
    const byDb = await direct(["reserve", "--user", "frank", "--pool", "gpu", "--vm", "gpu-1", "--vm", "gpu-2", "--from", at(60), "--to", at(61), "--label", "named-2"]);
    expect(byDb.code).toBe(3);
    expect(byDb.stderr).toContain("only 1 is free");
    const mismatch = await vmres(["reserve", "--pool", "gpu", "--vm", "gpu-1", "--count", "2", "--from", at(60), "--to", at(61), "--label", "named-3"]);
    expect(mismatch.code).toBe(2);
  });
});
