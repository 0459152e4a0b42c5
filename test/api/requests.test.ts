import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

let h: Harness;
let alice: { token: string; id: number; personId: number };
let bob: { token: string; id: number; personId: number };

beforeAll(async () => {
  h = await startApiHarness({ API_BODY_LIMIT: "2048", });
  alice = await personWithToken(h.core, "alice");
  bob = await personWithToken(h.core, "bob");
  await addVms(h.core, "default", 4);
});
afterAll(async () => h?.stop());

const open = async (personId: number) => {
  const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from checkouts where person_id = ${personId} and ended_at is null`);
  return row?.n ?? 0;
};

describe("bad input", () => {
  const cases: [string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number, string][] = [
    ["an unknown field", { body: { pool: "default", colour: "red" } }, 400, "colour"],
    ["a wrong type", { body: { pool: 7 } }, 400, "pool"],
    ["a wrong type deeper in", { body: { note: ["a"] } }, 400, "note"],
    ["malformed JSON", { raw: '{"pool": ' }, 400, "body"],
    ["a body over the limit", { body: { note: "x".repeat(5000) } }, 413, "body"],
    ["a body that is not JSON", { raw: "pool=default", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415, "body"],
    ["a value the core refuses", { body: { pool: "-bad-" } }, 422, "pool"],
    ["a duration that is not one", { body: { for: "soon" } }, 400, "for"],
  ];
  for (const [what, request, status, field] of cases) {
    it(`answers ${what} with ${status} naming ${field}, and changes nothing`, async () => {
      const before = await snapshot(h.core);
      const r = await call(h, "POST", "/v1/checkouts", { token: alice.token, ...request });
      expect(r.status).toBe(status);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
      expect(r.body.field).toBe(field);
      expect(r.body.detail).toBeTruthy();
      expect(await snapshot(h.core)).toBe(before);
    });
  }

  it("names each unknown query parameter", async () => {
    const r = await call(h, "GET", "/v1/vms?colour=red", { token: alice.token });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe("colour");
    expect(r.body.errors[0]).toMatchObject({ in: "querystring" });
  });
});

describe("Idempotency-Key", () => {
  it("gives a retried POST the first answer and no second checkout", async () => {
    const headers = { "idempotency-key": "retry-1" };
    const first = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { note: "once" }, headers });
    expect(first.status).toBe(201);
    const second = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: { note: "once" }, headers });
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await open(alice.personId)).toBe(1);
  });

  it("replays a refusal as well, and a retried DELETE checks in once", async () => {
    const again = await call(h, "POST", "/v1/checkouts", { token: alice.token, body: {}, headers: { "idempotency-key": "quota-1" } });
    expect(again.status).toBe(409);
    const [c] = (await call(h, "GET", "/v1/checkouts?open=true&user=me", { token: alice.token })).body;
    const del1 = await call(h, "DELETE", `/v1/checkouts/${c.id}`, { token: alice.token, headers: { "idempotency-key": "in-1" } });
    const del2 = await call(h, "DELETE", `/v1/checkouts/${c.id}`, { token: alice.token, headers: { "idempotency-key": "in-1" } });
    expect(del1.status).toBe(200);
    expect(del2.status).toBe(200);
    expect(del2.body).toEqual(del1.body);
    const [events] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from events where kind = 'checked_in' and (detail->>'checkout')::int = ${c.id}`);
    expect(events?.n).toBe(1);
  });

  it("refuses the same key with another body (422), changing nothing", async () => {
    await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { note: "a" }, headers: { "idempotency-key": "k-2" } });
    const before = await snapshot(h.core);
    const r = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { note: "b" }, headers: { "idempotency-key": "k-2" } });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ code: "idempotency_key_reused", field: "Idempotency-Key" });
    expect(await snapshot(h.core)).toBe(before);
  });

  it("keeps keys per token: another token's same key is a new request", async () => {
    const carol = await personWithToken(h.core, "carol");
    const r = await call(h, "POST", "/v1/checkouts", { token: carol.token, body: { note: "once" }, headers: { "idempotency-key": "retry-1" } });
    expect(r.status).toBe(201);
    expect(r.headers.get("idempotent-replayed")).toBeNull();
  });

  it("lets ten retries sent at once make one checkout, each answered with it or told to retry (409)", async () => {
    const dave = await personWithToken(h.core, "dave");
    await h.core.db.execute(sql`update pools set quota = 3 where name = 'default'`);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => call(h, "POST", "/v1/checkouts", { token: dave.token, body: {}, headers: { "idempotency-key": "burst" } })),
    );
    const ok = answers.filter((a) => a.status === 201);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((a) => a.body.id)).size).toBe(1);
    for (const a of answers.filter((x) => x.status !== 201)) expect(a.body.code).toBe("idempotency_in_progress");
    expect(await open(dave.personId)).toBe(1);
  });

  it("forgets keys after 24 hours: the stored answer is pruned and the key runs anew", async () => {
    await h.core.db.execute(sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'k-2'`);
    const [{ n } = { n: 0 }] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from idempotency_keys where created_at < now() - interval '24 hours'`);
    expect(n).toBe(1);
    const r = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: { note: "b" }, headers: { "idempotency-key": "k-2" } });
    // A new request now, decided by the core (bob already holds his one VM, or none is free), no longer "key reused".
    expect(r.status).toBe(409);
    expect(["quota_reached", "no_vm_free"]).toContain(r.body.code);
    expect(r.headers.get("idempotent-replayed")).toBeNull();
    await h.core.db.execute(sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'k-2'`);
    const { Idempotency } = await import("../../src/api/idempotency.js");
    const pruned = await new Idempotency(h.core, h.service.context.log, 30_000).prune();
    expect(pruned).toBe(1);
  });

  it("refuses an over-long key with 400 naming it", async () => {
    const r = await call(h, "POST", "/v1/checkouts", { token: bob.token, body: {}, headers: { "idempotency-key": "k".repeat(201) } });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe("Idempotency-Key");
  });
});
