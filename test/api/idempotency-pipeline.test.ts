import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVms, call, eventually, personWithToken, startApiHarness, type Harness } from "./helpers.js";

// The API's request pipeline: authentication and the rate limit, then validation, then the
// Idempotency-Key claim, then the route; what a key keeps, and what becomes of a claim whose
// process stopped.
let h: Harness;
beforeAll(async () => {
  // A short claim timeout, so a renewed claim is seen to outlive it within a test.
  h = await startApiHarness({ API_RATE_LIMIT: "100000/h", IDEMPOTENCY_CLAIM_TIMEOUT_MS: "600" });
  // Checked-in VMs go to cleaning: enough for every checkout of this file.
  await addVms(h.core, "default", 6);
});
afterAll(async () => h?.stop());

const keyRow = async (key: string) => {
  const rows = await h.core.db.execute<{ status: number | null; body: unknown; secret_withheld: boolean; claimed_by: string | null }>(
    sql`select status, body, secret_withheld, claimed_by from idempotency_keys where key = ${key}`,
  );
  return rows[0];
};

/** Every row of every table of the database, as text, that contains `needle`: where a secret would have been kept. */
async function tablesHolding(needle: string): Promise<string[]> {
  const tables = await h.core.db.execute<{ name: string }>(sql`select tablename as name from pg_tables where schemaname = 'public'`);
  const found: string[] = [];
  for (const { name } of tables) {
    const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(name)} t where t::text like ${"%" + needle + "%"}`);
    if ((row?.n ?? 0) > 0) found.push(name);
  }
  return found;
}

describe("an answer holding a secret (POST /v1/tokens)", () => {
  it("leaves no token value in the database, and its retry is told what was made without the value", async () => {
    const ann = await personWithToken(h.core, "ann");
    const headers = { "idempotency-key": "new-token-1" };
    const made = await call(h, "POST", "/v1/tokens", { token: ann.token, body: { label: "ci" }, headers });
    expect(made.status).toBe(201);
    const value: string = made.body.token;
    expect(value).toMatch(/^vmres_/);

    expect(await tablesHolding(value)).toEqual([]);
    const row = await keyRow("new-token-1");
    expect(row).toMatchObject({ status: 201, secret_withheld: true });
    expect(JSON.stringify(row?.body)).not.toContain(value);

    const retry = await call(h, "POST", "/v1/tokens", { token: ann.token, body: { label: "ci" }, headers });
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ code: "idempotency_answer_withheld", firstStatus: 201, first: { id: made.body.id, prefix: made.body.prefix } });
    expect(retry.body.detail).toContain("DELETE /v1/tokens/{id}");
    expect(JSON.stringify(retry.body)).not.toContain(value);
    expect(retry.body.first.token).toBeUndefined();
    // The retry made nothing: ann holds her first token and the one the first request made.
    const [tokens] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from api_tokens where person_id = ${ann.personId}`);
    expect(tokens?.n).toBe(2);
  });

  it("still replays a refusal of the same route, which holds no secret", async () => {
    const bea = await personWithToken(h.core, "bea");
    const headers = { "idempotency-key": "new-token-refused" };
    const first = await call(h, "POST", "/v1/tokens", { token: bea.token, body: { user: "ann" }, headers });
    expect(first.status).toBe(403);
    const retry = await call(h, "POST", "/v1/tokens", { token: bea.token, body: { user: "ann" }, headers });
    expect(retry.status).toBe(403);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body).toEqual(first.body);
  });
});

describe("what a key keeps", () => {
  it("keeps nothing for a request the schema refuses (400), so the corrected retry with the same key runs", async () => {
    const cyd = await personWithToken(h.core, "cyd");
    const headers = { "idempotency-key": "bad-then-good" };
    const bad = await call(h, "POST", "/v1/checkouts", { token: cyd.token, body: { colour: "red" }, headers });
    expect(bad.status).toBe(400);
    expect(await keyRow("bad-then-good")).toBeUndefined();
    const good = await call(h, "POST", "/v1/checkouts", { token: cyd.token, body: {}, headers });
    expect(good.status).toBe(201);
    expect(good.headers.get("idempotent-replayed")).toBeNull();
    await call(h, "DELETE", `/v1/checkouts/${good.body.id}`, { token: cyd.token });
  });

  it("keeps nothing for an unknown token (401)", async () => {
    const before = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from idempotency_keys`);
    const r = await call(h, "POST", "/v1/checkouts", { token: "vmres_" + "A".repeat(43), body: {}, headers: { "idempotency-key": "no-token" } });
    expect(r.status).toBe(401);
    expect(await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from idempotency_keys`)).toEqual(before);
  });
});

describe("a claim whose process stopped (IDEMPOTENCY_CLAIM_TIMEOUT_MS)", () => {
  /** Makes the key's row look like the claim of a process that died while running the request. */
  const leftByDeadProcess = (key: string, heartbeatAgo: string) =>
    h.core.db.execute(sql`
      update idempotency_keys set status = null, body = null, claimed_by = 'gone-host/4242/deadbeef', heartbeat_at = now() - ${heartbeatAgo}::interval
      where key = ${key}`);

  it("is taken over by the next retry once its heartbeat is older than the timeout, and the request runs again", async () => {
    const dee = await personWithToken(h.core, "dee");
    const headers = { "idempotency-key": "dead-claim" };
    const first = await call(h, "POST", "/v1/checkouts", { token: dee.token, body: { note: "dead" }, headers });
    expect(first.status).toBe(201);
    await call(h, "DELETE", `/v1/checkouts/${first.body.id}`, { token: dee.token });
    await leftByDeadProcess("dead-claim", "1 hour");

    const retry = await call(h, "POST", "/v1/checkouts", { token: dee.token, body: { note: "dead" }, headers });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    expect(retry.body.id).not.toBe(first.body.id);
    const row = await keyRow("dead-claim");
    expect(row).toMatchObject({ status: 201 });
    expect(row?.claimed_by).not.toBe("gone-host/4242/deadbeef");
    // And it is the key's answer from now on.
    const again = await call(h, "POST", "/v1/checkouts", { token: dee.token, body: { note: "dead" }, headers });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.id).toBe(retry.body.id);
    await call(h, "DELETE", `/v1/checkouts/${retry.body.id}`, { token: dee.token });
  });

  it("is not taken over while its heartbeat is recent, nor by a request with another body", async () => {
    const eli = await personWithToken(h.core, "eli");
    const headers = { "idempotency-key": "live-claim" };
    const first = await call(h, "POST", "/v1/checkouts", { token: eli.token, body: { pool: "nope" }, headers });
    expect(first.status).toBe(404);
    await leftByDeadProcess("live-claim", "0 seconds");
    const early = await call(h, "POST", "/v1/checkouts", { token: eli.token, body: { pool: "nope" }, headers });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe("idempotency_in_progress");
    await leftByDeadProcess("live-claim", "1 hour");
    const other = await call(h, "POST", "/v1/checkouts", { token: eli.token, body: { pool: "other" }, headers });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    expect((await keyRow("live-claim"))?.claimed_by).toBe("gone-host/4242/deadbeef");
  });

  it("of a request still running is renewed, so a retry after the timeout is still asked to wait", async () => {
    const fay = await personWithToken(h.core, "fay");
    await addVms(h.core, "busy", 1);
    const [vm] = await h.core.db.execute<{ name: string }>(sql`select name from vms where pool = 'busy'`);
    const gus = await personWithToken(h.core, "gus");
    expect((await call(h, "POST", "/v1/checkouts", { token: gus.token, body: { pool: "busy" } })).status).toBe(201);
    const headers = { "idempotency-key": "long-wait" };
    const waiting = call(h, "POST", "/v1/checkouts", { token: fay.token, body: { pool: "busy", wait: "6s" }, headers });
    // Its claim has lived past the 600 ms timeout and was renewed since.
    await eventually("the waiting request's claim renewed past the timeout", async () => {
      const [row] = await h.core.db.execute<{ renewed: boolean }>(
        sql`select heartbeat_at - created_at > interval '900 milliseconds' and status is null as renewed from idempotency_keys where key = 'long-wait'`,
      );
      return row?.renewed === true;
    });
    const retry = await call(h, "POST", "/v1/checkouts", { token: fay.token, body: { pool: "busy", wait: "6s" }, headers });
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe("idempotency_in_progress");
    const answered = await waiting;
    expect(answered.body.code).toBe("no_vm_free");
    expect(vm?.name).toBeTruthy();
    const replay = await call(h, "POST", "/v1/checkouts", { token: fay.token, body: { pool: "busy", wait: "6s" }, headers });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual(answered.body);
  });
});
