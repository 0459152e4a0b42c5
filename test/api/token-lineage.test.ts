import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createToken } from "../../src/core/tokens.js";
import { call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

// Tokens made with tokens (POST /v1/tokens), as a client holding a short-lived or leaked token
// would try to outlive it, and the cap on how many one person holds. The service runs with
// MAX_TOKENS_PER_PERSON=3 and the default MAX_TOKEN_LIFETIME (365d).
let h: Harness;
const OPERATOR = { person: "operator", source: "cli" } as const;
const DAY = 86_400_000;

beforeAll(async () => {
  h = await startApiHarness({ MAX_TOKENS_PER_PERSON: "3" });
});
afterAll(async () => h?.stop());

/** A person with one token that expires in `ms` (made by the operator). */
async function personWithShortToken(name: string, ms: number) {
  const first = await personWithToken(h.core, name);
  await h.core.db.execute(sql`update api_tokens set revoked_at = now() where id = ${first.id}`);
  const made = await createToken(h.core, OPERATOR, { user: name, label: "short", expiresMs: ms });
  if (!made.ok) throw new Error(JSON.stringify(made.refusal));
  return { token: made.value.token, id: made.value.id, expiresAt: made.value.expiresAt as Date };
}

const liveTokens = async (name: string) => {
  const [row] = await h.core.db.execute<{ n: number }>(
    sql`select count(*)::int as n from api_tokens t join people p on p.id = t.person_id where p.name = ${name} and t.revoked_at is null`,
  );
  return row?.n;
};

describe("a token made with a token", () => {
  it("expires no later than the token it was made with, whether it asks for no lifetime or a longer one", async () => {
    const parent = await personWithShortToken("dora", 10 * 60_000);
    const unasked = await call(h, "POST", "/v1/tokens", { token: parent.token, body: { label: "script" } });
    expect(unasked.status).toBe(201);
    expect(unasked.body).toMatchObject({ parentId: parent.id, expiresAt: parent.expiresAt.toISOString() });
    const longer = await call(h, "POST", "/v1/tokens", { token: parent.token, body: { label: "long", expires: "90d" } });
    expect(longer.status).toBe(201);
    expect(longer.body.expiresAt).toBe(parent.expiresAt.toISOString());
    // Once the parent's ten minutes are over, the child is refused too.
    await h.core.db.execute(sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${parent.id}`);
    const after = await call(h, "GET", "/v1/me", { token: unasked.body.token });
    expect(after.status).toBe(401);
    expect(after.body.reason).toBe("expired");
  });

  it("is revoked with the token it was made with, and with that one's parent, on record", async () => {
    const erin = await personWithToken(h.core, "erin");
    const child = await call(h, "POST", "/v1/tokens", { token: erin.token, body: { label: "child" } });
    const grandchild = await call(h, "POST", "/v1/tokens", { token: child.body.token, body: { label: "grandchild" } });
    expect([child.status, grandchild.status]).toEqual([201, 201]);
    expect((await call(h, "GET", "/v1/me", { token: grandchild.body.token })).status).toBe(200);

    const revoked = await call(h, "DELETE", `/v1/tokens/${erin.id}`, { token: erin.token });
    expect(revoked.body).toEqual({ id: erin.id, person: "erin", alreadyRevoked: false, alsoRevoked: [child.body.id, grandchild.body.id] });
    for (const t of [child.body.token, grandchild.body.token]) {
      const r = await call(h, "GET", "/v1/me", { token: t });
      expect(r.status).toBe(401);
      expect(r.body.reason).toBe("revoked");
    }
    const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from api_tokens where id in (${child.body.id}, ${grandchild.body.id}) and revoked_at is not null`);
    expect(row?.n).toBe(2);
  });

  it("is refused once its parent is revoked or expired, even where its own row was not updated", async () => {
    // As a token made while its parent's revocation was under way would be: the row says live, the parent says no.
    const fay = await personWithToken(h.core, "fay");
    const child = await call(h, "POST", "/v1/tokens", { token: fay.token, body: { label: "child" } });
    expect(child.status).toBe(201);
    await h.core.db.execute(sql`update api_tokens set revoked_at = now() where id = ${fay.id}`);
    const before = await snapshot(h.core);
    const refused = await call(h, "POST", "/v1/checkouts", { token: child.body.token, body: {} });
    expect(refused.status).toBe(401);
    expect(refused.body.reason).toBe("revoked");
    expect(await snapshot(h.core)).toBe(before);
  });
});

describe("token lifetimes", () => {
  it("refuses a lifetime longer than MAX_TOKEN_LIFETIME, naming the limit, and makes none", async () => {
    const gus = await personWithToken(h.core, "gus");
    const before = await snapshot(h.core);
    const tooLong = await call(h, "POST", "/v1/tokens", { token: gus.token, body: { expires: "3650d" } });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body).toMatchObject({ code: "invalid_input", field: "expires" });
    expect(tooLong.body.detail).toContain("365d (MAX_TOKEN_LIFETIME)");
    expect(await snapshot(h.core)).toBe(before);
  });

  it("gives a token asked for without a lifetime the longest one, not for ever", async () => {
    const made = await createToken(h.core, OPERATOR, { user: "gus", label: "ci" });
    expect(made.ok && made.value.expiresAt).toBeInstanceOf(Date);
    const ms = made.ok && made.value.expiresAt ? made.value.expiresAt.getTime() - Date.now() : 0;
    expect(ms).toBeGreaterThan(364 * DAY);
    expect(ms).toBeLessThanOrEqual(365 * DAY);
  });
});

describe("how many tokens one person holds", () => {
  it("stops at MAX_TOKENS_PER_PERSON live tokens, even when asked for many at once; a revoked one frees a place", async () => {
    const hal = await personWithToken(h.core, "hal");
    const asks = await Promise.all(Array.from({ length: 6 }, (_, i) => call(h, "POST", "/v1/tokens", { token: hal.token, body: { label: `t${i}` } })));
    expect(asks.filter((a) => a.status === 201)).toHaveLength(2);
    const refused = asks.filter((a) => a.status !== 201);
    expect(refused).toHaveLength(4);
    expect(refused[0]?.status).toBe(409);
    expect(refused[0]?.body).toMatchObject({ code: "too_many_tokens", person: "hal", limit: 3 });
    expect(refused[0]?.body.detail).toContain("MAX_TOKENS_PER_PERSON");
    expect(await liveTokens("hal")).toBe(3);

    const one = asks.find((a) => a.status === 201);
    expect((await call(h, "DELETE", `/v1/tokens/${one?.body.id}`, { token: hal.token })).status).toBe(200);
    expect((await call(h, "POST", "/v1/tokens", { token: hal.token, body: { label: "again" } })).status).toBe(201);
    expect(await liveTokens("hal")).toBe(3);
  });

  it("holds for an admin making tokens for someone else too", async () => {
    const admin = await personWithToken(h.core, "root-lineage", { admin: true });
    expect(await createToken(h.core, OPERATOR, { user: "hal", label: "operator's" })).toEqual({ ok: false, refusal: { code: "too_many_tokens", person: "hal", limit: 3 } });
    const forHal = await call(h, "POST", "/v1/tokens", { token: admin.token, body: { user: "hal" } });
    expect(forHal.status).toBe(409);
    expect(forHal.body.code).toBe("too_many_tokens");
  });
});
