/**
 * API cases about who may ask at all: forged, expired and revoked tokens,
 * tokens made with tokens (they must not outlive their parent), and a new
 * token's value, which nothing may keep or show twice.
 */
import { randomBytes } from "node:crypto";
import { hashToken } from "../src/core/tokens.js";
import { expectStatus, expectUnauthorized, randomKey, until, type ApiCase, type Attack } from "./soak-hostile-api-case.js";
import { call, type ApiAnswer, type ApiWorld, type Holder } from "./soak-hostile-api-world.js";

/** What every refused credential tries: read who it is, take a VM, mint a token of its own. */
async function tryEverything(w: ApiWorld, headers: Record<string, string>): Promise<ApiAnswer[]> {
  return [
    await call(w.url, null, "GET", "/v1/me", { headers }),
    await call(w.url, null, "POST", "/v1/checkouts", { headers, body: { pool: w.replayPool } }),
    await call(w.url, null, "POST", "/v1/tokens", { headers, body: { label: "minted" } }),
  ];
}

function forged(name: string, header: (w: ApiWorld) => Record<string, string>, reason?: string): ApiCase {
  return {
    name,
    family: "forged token",
    async make(w) {
      return async (): Promise<Attack> => {
        const answers = await tryEverything(w, header(w));
        const misses: string[] = [];
        expectUnauthorized(misses, answers, reason);
        return { answers, misses };
      };
    },
  };
}

const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

/** A token made over the API with `parent`'s token; its value joins the soak's secrets. */
async function childOf(w: ApiWorld, parent: Holder, body: Record<string, unknown> = { label: "child" }): Promise<{ answer: ApiAnswer; token: string | null }> {
  const answer = await call(w.url, parent.token, "POST", "/v1/tokens", { body });
  const token = (answer.json as { token?: unknown } | null)?.token;
  if (typeof token !== "string") return { answer, token: null };
  w.secrets.set(token, `a child of ${parent.slackId}'s token`);
  return { answer, token };
}

/** The child's requests are refused like any dead token's. */
async function childRefused(w: ApiWorld, child: string): Promise<Attack> {
  const answers = [await call(w.url, child, "GET", "/v1/me"), await call(w.url, child, "POST", "/v1/checkouts", { body: { pool: w.replayPool } })];
  const misses: string[] = [];
  expectUnauthorized(misses, answers);
  return { answers, misses };
}

export const TOKEN_CASES: ApiCase[] = [
  forged("no Authorization header", () => ({}), undefined),
  forged("a Bearer value that is no vmres token", () => bearer("hello"), "malformed"),
  forged("a well-formed token nobody was given", () => bearer(`vmres_${randomBytes(32).toString("base64url")}`), "unknown"),
  forged("a real token with its last character changed", (w) => bearer(w.victim.token.slice(0, -1) + (w.victim.token.endsWith("A") ? "B" : "A")), "unknown"),
  forged("the SHA-256 a copy of the database holds, sent as the token", (w) => bearer(hashToken(w.victim.token)), "malformed"),
  forged("a real token's first 12 characters, as listings show them", (w) => bearer(w.victim.token.slice(0, 12)), "malformed"),
  forged("a real token sent as Basic credentials", (w) => ({ authorization: `Basic ${Buffer.from(`${w.victim.token}:`).toString("base64")}` })),
  forged("two tokens in one Bearer header", (w) => bearer(`${w.victim.token} ${w.victim.token}`)),
  {
    name: "a token whose expiry passed a second ago",
    family: "expired token",
    async make(w) {
      const p = await w.person("expiring", 3_600_000);
      await w.database.sql`update api_tokens set expires_at = now() - interval '1 second' where id = ${p.tokenId}`;
      return async () => {
        const answers = await tryEverything(w, bearer(p.token));
        const misses: string[] = [];
        expectUnauthorized(misses, answers, "expired");
        return { answers, misses };
      };
    },
  },
  {
    name: "a token its holder revoked",
    family: "revoked token",
    async make(w) {
      const p = await w.person("revoking");
      const revoked = await call(w.url, p.token, "DELETE", `/v1/tokens/${p.tokenId}`);
      if (revoked.status !== 200) throw new Error(`setup: revoking a token answered ${revoked.status}: ${revoked.text.slice(0, 200)}`);
      return async () => {
        const answers = await tryEverything(w, bearer(p.token));
        const misses: string[] = [];
        expectUnauthorized(misses, answers, "revoked");
        return { answers, misses };
      };
    },
  },
  {
    name: "a token made with a token that was then revoked",
    family: "revoked token",
    async make(w) {
      const parent = await w.person("revoked-parent");
      const child = await childOf(w, parent);
      if (!child.token) throw new Error(`setup: a token made with a token answered ${child.answer.status}: ${child.answer.text.slice(0, 200)}`);
      const revoked = await call(w.url, parent.token, "DELETE", `/v1/tokens/${parent.tokenId}`);
      if (revoked.status !== 200) throw new Error(`setup: revoking the parent answered ${revoked.status}`);
      const token = child.token;
      return () => childRefused(w, token);
    },
  },
  {
    name: "a token made with a short-lived token, once that one expired",
    family: "expired token",
    async make(w) {
      const parent = await w.person("short-lived", 600_000);
      // A token near the end of its life: it expires a few seconds from now.
      await w.database.sql`update api_tokens set expires_at = now() + interval '4 seconds' where id = ${parent.tokenId}`;
      const child = await childOf(w, parent);
      if (!child.token) throw new Error(`setup: a token made with a token answered ${child.answer.status}: ${child.answer.text.slice(0, 200)}`);
      const expired = await until(async () => (await call(w.url, parent.token, "GET", "/v1/me")).status === 401, 20_000);
      if (!expired) throw new Error("setup: the short-lived parent token still worked 20 s after its expiry");
      const token = child.token;
      return () => childRefused(w, token);
    },
  },
  {
    name: "a token with 10 minutes left asks for a child of 3650 days",
    family: "expired token",
    changes: { tokens: [0, 1] },
    async make(w) {
      const parent = await w.person("ten-minutes", 600_000);
      const [row] = await w.database.sql<{ ms: number }[]>`select (extract(epoch from expires_at) * 1000)::float8 as ms from api_tokens where id = ${parent.tokenId}`;
      const parentEnds = row?.ms ?? 0;
      return async () => {
        const child = await childOf(w, parent, { label: "forever", expires: "3650d" });
        const misses: string[] = [];
        const expiresAt = (child.answer.json as { expiresAt?: unknown } | null)?.expiresAt;
        if (child.answer.status === 201) {
          const ends = typeof expiresAt === "string" ? Date.parse(expiresAt) : Infinity;
          if (!(ends <= parentEnds)) misses.push(`the child expires ${String(expiresAt)}, after its parent (${new Date(parentEnds).toISOString()})`);
        } else expectStatus(misses, "the child", child.answer, 201, 422);
        return { answers: [child.answer], misses, scan: [] };
      };
    },
  },
  {
    name: "a token made with an Idempotency-Key, then the same key again",
    family: "token value",
    changes: { tokens: 1 },
    async make(w) {
      const p = await w.person("minting");
      return async () => {
        const key = randomKey();
        const made = await call(w.url, p.token, "POST", "/v1/tokens", { body: { label: "ci-keyed" }, headers: { "idempotency-key": key } });
        const value = (made.json as { token?: unknown } | null)?.token;
        if (typeof value === "string") w.secrets.set(value, `${p.slackId}'s keyed token`);
        const again = await call(w.url, p.token, "POST", "/v1/tokens", { body: { label: "ci-keyed" }, headers: { "idempotency-key": key } });
        const misses: string[] = [];
        expectStatus(misses, "the first", made, 201);
        // The retry may say it was made (without the value) or refuse; it must not make a second or show the first.
        if (typeof again.status !== "number" || again.status >= 500) misses.push(`the retry: ${again.status}`);
        return { answers: [made, again], misses, scan: [again] };
      };
    },
  },
];
