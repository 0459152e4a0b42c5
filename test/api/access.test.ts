import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOKEN_PREFIX } from "../../src/core/tokens.js";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

let h: Harness;
let alice: { token: string; id: number; personId: number };
let admin: { token: string; id: number; personId: number };

beforeAll(async () => {
  h = await startApiHarness();
  alice = await personWithToken(h.core, "alice");
  admin = await personWithToken(h.core, "root-api", { admin: true });
  await addVms(h.core, "default", 2);
  await addVms(h.core, "gpu", 1);
});
afterAll(async () => h?.stop());

describe("tokens that are not accepted", () => {
  const forged = TOKEN_PREFIX + "A".repeat(43);
  const cases: [string, () => Promise<Record<string, string>>, string][] = [
    ["missing", async () => ({}), "unauthorized"],
    ["not a bearer token", async () => ({ authorization: `Basic ${Buffer.from("alice:x").toString("base64")}` }), "unauthorized"],
    ["malformed", async () => ({ authorization: "Bearer not-a-token" }), "malformed"],
    ["forged (the right shape, unknown)", async () => ({ authorization: `Bearer ${forged}` }), "unknown"],
  ];
  for (const [what, headers, reason] of cases) {
    it(`answers a ${what} token with 401 and WWW-Authenticate, and changes nothing`, async () => {
      const before = await snapshot(h.core);
      const r = await call(h, "POST", "/v1/checkouts", { headers: await headers(), body: {} });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toContain("Bearer");
      expect(r.body.code).toBe("unauthorized");
      if (reason !== "unauthorized") expect(r.body.reason).toBe(reason);
      expect(await snapshot(h.core)).toBe(before);
    });
  }

  it("refuses a revoked token from the next request (401 revoked), and an expired one (401 expired), nothing changed", async () => {
    const bob = await personWithToken(h.core, "bob");
    expect((await call(h, "GET", "/v1/me", { token: bob.token })).status).toBe(200);
    const revoked = await call(h, "DELETE", `/v1/tokens/${bob.id}`, { token: bob.token });
    expect(revoked.status).toBe(200);
    const before = await snapshot(h.core);
    const after = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: {} });
    expect(after.status).toBe(401);
    expect(after.body.reason).toBe("revoked");

    const carol = await personWithToken(h.core, "carol");
    await h.core.db.execute(sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${carol.id}`);
    const before2 = await snapshot(h.core);
    const expired = await call(h, "POST", "/v1/checkouts", { token: carol.token, body: {} });
    expect(expired.status).toBe(401);
    expect(expired.body.reason).toBe("expired");
    expect(await snapshot(h.core)).toBe(before2);
    expect(before).not.toBe("");
  });

  it("stores only the token's hash", async () => {
    const rows = await h.core.db.execute<{ token_hash: string; prefix: string }>(sql`select token_hash, prefix from api_tokens where id = ${alice.id}`);
    expect(rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.token_hash).not.toContain(alice.token);
    expect(alice.token.startsWith(rows[0]?.prefix ?? "?")).toBe(true);
    const [dump] = await h.core.db.execute<{ t: string }>(sql`select string_agg(t::text, ',') as t from api_tokens t`);
    expect(dump?.t).not.toContain(alice.token.slice(TOKEN_PREFIX.length));
  });
});

describe("admin endpoints", () => {
  it("answer a non-admin with 403 not_admin and change nothing", async () => {
    const before = await snapshot(h.core);
    const attempts: [string, string, unknown?][] = [
      ["POST", "/v1/vms", { name: "new-1", ip: "127.0.0.50", pool: "default" }],
      ["PATCH", "/v1/vms/default-1", { state: "maintenance" }],
      ["DELETE", "/v1/vms/default-1"],
      ["POST", "/v1/vms/default-1/cleanup"],
      ["GET", "/v1/people"],
      ["POST", "/v1/people", { name: "mallory" }],
      ["POST", "/v1/tokens", { user: "root-api" }],
      ["GET", "/v1/tokens?user=root-api"],
    ];
    for (const [method, path, body] of attempts) {
      const r = await call(h, method, path, { token: alice.token, body });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.code, `${method} ${path}`).toBe("not_admin");
    }
    const revokeOthers = await call(h, "DELETE", `/v1/tokens/${admin.id}`, { token: alice.token });
    expect(revokeOthers.status).toBe(404);
    expect(revokeOthers.body.code).toBe("unknown_token");
    expect(await snapshot(h.core)).toBe(before);
  });

  it("let an admin add, drain, repair, retry the cleanup of and retire VMs, each on record as the API", async () => {
    const added = await call(h, "POST", "/v1/vms", { token: admin.token, body: { name: "new-1", ip: "127.0.0.50", pool: "lab", tags: ["x86"] } });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: "new-1", pool: "lab", state: "available", tags: ["x86"], sshUser: "root", sshPort: 22 });
    const taken = await call(h, "POST", "/v1/vms", { token: admin.token, body: { name: "new-1", ip: "127.0.0.51", pool: "lab" } });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe("name_taken");
    const drained = await call(h, "PATCH", "/v1/vms/new-1", { token: admin.token, body: { state: "maintenance" } });
    expect(drained.status).toBe(200);
    expect(drained.body).toEqual({ vm: "new-1", transition: { from: "available", to: "maintenance" }, fields: null });
    const again = await call(h, "PATCH", "/v1/vms/new-1", { token: admin.token, body: { state: "maintenance" } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "wrong_state", state: "maintenance" });
    const retry = await call(h, "POST", "/v1/vms/new-1/cleanup", { token: admin.token });
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ code: "wrong_state", allowed: ["quarantined"] });
    await h.core.db.execute(sql`update vms set state = 'quarantined' where name = 'new-1'`);
    const retried = await call(h, "POST", "/v1/vms/new-1/cleanup", { token: admin.token });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ from: "quarantined", to: "cleaning" });
    await h.core.db.execute(sql`update vms set state = 'maintenance', cleanup_next_at = null, claimed_at = null, claimed_by = null where name = 'new-1'`);
    const repaired = await call(h, "PATCH", "/v1/vms/new-1", { token: admin.token, body: { state: "available" } });
    expect(repaired.status).toBe(200);
    expect(repaired.body.transition.to).toBe("available");
    const removed = await call(h, "DELETE", "/v1/vms/new-1", { token: admin.token });
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ vm: "new-1", retired: "now" });
    const unknown = await call(h, "DELETE", "/v1/vms/nope-1", { token: admin.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("unknown_vm");
    const events = await call(h, "GET", "/v1/vms/new-1/events", { token: alice.token });
    expect(events.status).toBe(200);
    expect(events.body.map((e: { kind: string }) => e.kind)).toEqual(["retired", "repaired", "cleanup_retry", "drained", "added"]);
    expect(events.body.every((e: { source: string; actor: string }) => e.source === "api" && e.actor === "root-api")).toBe(true);
  });

  it("let an admin change a VM's fields: at once when idle, at check-in when held; a bad value changes nothing", async () => {
    const idle = await call(h, "PATCH", "/v1/vms/default-2", { token: admin.token, body: { tags: ["arm", "big"], sshPort: 2222 } });
    expect(idle.status).toBe(200);
    expect(idle.body).toEqual({ vm: "default-2", transition: null, fields: "now" });
    expect((await call(h, "GET", "/v1/vms/default-2", { token: alice.token })).body).toMatchObject({ tags: ["arm", "big"], sshPort: 2222 });
    const out = await call(h, "POST", "/v1/checkouts", { token: admin.token, body: { pool: "default" } });
    expect(out.status).toBe(201);
    const held = await call(h, "PATCH", `/v1/vms/${out.body.vm}`, { token: admin.token, body: { ip: "127.0.0.77" } });
    expect(held.body.fields).toBe("at_checkin");
    expect((await call(h, "GET", `/v1/vms/${out.body.vm}`, { token: alice.token })).body.ip).not.toBe("127.0.0.77");
    expect((await call(h, "DELETE", `/v1/checkouts/${out.body.id}`, { token: admin.token })).status).toBe(200);
    expect((await call(h, "GET", `/v1/vms/${out.body.vm}`, { token: alice.token })).body.ip).toBe("127.0.0.77");
    const before = await snapshot(h.core);
    const bad = await call(h, "PATCH", "/v1/vms/default-2", { token: admin.token, body: { state: "maintenance", ip: "not-an-ip" } });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ code: "invalid_input", field: "ip" });
    const empty = await call(h, "PATCH", "/v1/vms/default-2", { token: admin.token, body: {} });
    expect(empty.status).toBe(422);
    expect(await snapshot(h.core)).toBe(before);
    const [vm] = await h.core.db.execute<{ state: string }>(sql`select state from vms where name = 'default-2'`);
    expect(vm?.state).toBe("available");
  });

  it("let an admin add people and services, list everyone, and make and list tokens for anyone", async () => {
    const added = await call(h, "POST", "/v1/people", { token: admin.token, body: { name: "ci-nightly", kind: "service" } });
    expect(added.status).toBe(201);
    expect(added.body.name).toBe("ci-nightly");
    const dup = await call(h, "POST", "/v1/people", { token: admin.token, body: { name: "ci-nightly" } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe("person_exists");
    const people = await call(h, "GET", "/v1/people", { token: admin.token });
    expect(people.body.find((p: { name: string }) => p.name === "ci-nightly")).toMatchObject({ kind: "service", admin: false });
    const made = await call(h, "POST", "/v1/tokens", { token: admin.token, body: { user: "ci-nightly", label: "nightly", expires: "90d" } });
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^vmres_/);
    expect(made.body).toMatchObject({ person: { name: "ci-nightly" }, label: "nightly", createdBy: "root-api" });
    const me = await call(h, "GET", "/v1/me", { token: made.body.token });
    expect(me.body).toMatchObject({ person: { name: "ci-nightly" }, admin: false, holds: [] });
    const list = await call(h, "GET", "/v1/tokens?user=ci-nightly", { token: admin.token });
    expect(list.body).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(made.body.token);
    const unknown = await call(h, "POST", "/v1/tokens", { token: admin.token, body: { user: "nobody" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("unknown_person");
  });
});

describe("everyone's endpoints", () => {
  it("GET /v1/me says who the token is, what they hold and where they wait", async () => {
    const c = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { pool: "gpu" } });
    expect(c.status).toBe(201);
    const me = await call(h, "GET", "/v1/me", { token: alice.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ person: { name: "alice" }, admin: false, tokenId: alice.id, queues: [] });
    expect(me.body.holds.map((v: { name: string; checkoutId: number }) => [v.name, v.checkoutId])).toEqual([[c.body.vm, c.body.id]]);
    const adminMe = await call(h, "GET", "/v1/me", { token: admin.token });
    expect(adminMe.body.admin).toBe(true);
  });

  it("GET /v1/vms filters by pool, state and tag; GET /v1/vms/{name} shows one or 404", async () => {
    const gpu = await call(h, "GET", "/v1/vms?pool=gpu", { token: alice.token });
    expect(gpu.body.map((v: { name: string }) => v.name)).toEqual(["gpu-1"]);
    const out = await call(h, "GET", "/v1/vms?state=checked_out", { token: alice.token });
    expect(out.body.map((v: { name: string; holder: { name: string } }) => [v.name, v.holder.name])).toEqual([["gpu-1", "alice"]]);
    const tagged = await call(h, "GET", "/v1/vms?tag=x86", { token: alice.token });
    expect(tagged.body.map((v: { name: string }) => v.name)).toEqual(["new-1"]);
    const one = await call(h, "GET", "/v1/vms/default-2", { token: alice.token });
    expect(one.body).toMatchObject({ name: "default-2", pool: "default", state: "available", holder: null });
    const none = await call(h, "GET", "/v1/vms/nope", { token: alice.token });
    expect(none.status).toBe(404);
    expect(none.body.code).toBe("unknown_vm");
    const badState = await call(h, "GET", "/v1/vms?state=broken", { token: alice.token });
    expect(badState.status).toBe(400);
    expect(badState.body.field).toBe("state");
  });

  it("GET /v1/pools and /v1/pools/{name} give counts by state, quota and the leases in force", async () => {
    const pools = await call(h, "GET", "/v1/pools", { token: alice.token });
    expect(pools.body.map((p: { name: string }) => p.name)).toEqual(["default", "gpu", "lab"]);
    const gpu = await call(h, "GET", "/v1/pools/gpu", { token: alice.token });
    expect(gpu.body).toMatchObject({ name: "gpu", quota: 1, total: 1, counts: { checked_out: 1, available: 0 }, leaseMs: 8 * 3_600_000, maxLeaseMs: 7 * 86_400_000 });
    const none = await call(h, "GET", "/v1/pools/nope", { token: alice.token });
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ code: "unknown_pool", known: ["default", "gpu", "lab"] });
  });

  it("a person makes, lists and revokes tokens of their own", async () => {
    const made = await call(h, "POST", "/v1/tokens", { token: alice.token, body: { label: "laptop" } });
    expect(made.status).toBe(201);
    const mine = await call(h, "GET", "/v1/tokens", { token: alice.token });
    expect(mine.body.every((t: { person: { name: string } }) => t.person.name === "alice")).toBe(true);
    expect(mine.body.map((t: { id: number }) => t.id)).toContain(made.body.id);
    const revoked = await call(h, "DELETE", `/v1/tokens/${made.body.id}`, { token: alice.token });
    expect(revoked.body).toEqual({ id: made.body.id, person: "alice", alreadyRevoked: false, alsoRevoked: [] });
    const twice = await call(h, "DELETE", `/v1/tokens/${made.body.id}`, { token: alice.token });
    expect(twice.body.alreadyRevoked).toBe(true);
    expect((await call(h, "GET", "/v1/me", { token: made.body.token })).status).toBe(401);
  });

  it("answers an unknown endpoint with 404 problem+json", async () => {
    const r = await call(h, "GET", "/v1/nothing", { token: alice.token });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe("not_found");
  });
});
