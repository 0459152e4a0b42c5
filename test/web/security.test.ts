import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSession } from "../../src/core/web-sessions.js";
import { addVms, personWithToken, snapshot, startApiHarness, type Harness } from "../api/helpers.js";

/**
 * The web page's session refused wherever it should be, over plain HTTP (no
 * browser needed): each refusal changes nothing (`snapshot`).
 */

const cookieOf = (secret: string) => `vmres_session=${secret}`;

/** Every way in with a session: a /v1 read, a /v1 change with the right CSRF token, a page, the session, the live stream. */
async function triesWith(h: Harness, cookie: string, csrf: string): Promise<Record<string, number>> {
  const get = (path: string) => fetch(h.url + path, { headers: { cookie }, redirect: "manual" });
  const out: Record<string, number> = {};
  out["GET /v1/me"] = (await get("/v1/me")).status;
  out["POST /v1/checkouts"] = (
    await fetch(`${h.url}/v1/checkouts`, { method: "POST", headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json" }, body: JSON.stringify({ pool: "linux" }) })
  ).status;
  out["GET /"] = (await get("/")).status;
  out["GET /web/session"] = (await get("/web/session")).status;
  const events = await get("/web/events");
  out["GET /web/events"] = events.status;
  await events.body?.cancel();
  return out;
}

const REFUSED = { "GET /v1/me": 401, "POST /v1/checkouts": 401, "GET /": 303, "GET /web/session": 401, "GET /web/events": 401 };

describe("the web page's session, refused where it must be", () => {
  let h: Harness;
  let personId: number;
  beforeAll(async () => {
    h = await startApiHarness();
    await addVms(h.core, "linux", 2);
    personId = (await personWithToken(h.core, "ann")).personId;
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("refuses a forged cookie (a random value of the right shape) everywhere, and nothing changes", async () => {
    const before = await snapshot(h.core);
    expect(await triesWith(h, cookieOf(randomBytes(32).toString("base64url")), "anything")).toEqual(REFUSED);
    expect(await triesWith(h, cookieOf("not-even-the-shape"), "anything")).toEqual(REFUSED);
    expect(await snapshot(h.core)).toBe(before);
  });

  it("refuses a cookie replayed after sign-out, and nothing changes", async () => {
    const session = await startSession(h.core, personId, "token", 3_600_000);
    const cookie = cookieOf(session.secret);
    expect((await fetch(`${h.url}/v1/me`, { headers: { cookie } })).status).toBe(200);
    const out = await fetch(`${h.url}/logout`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: h.url },
      body: new URLSearchParams({ csrf: session.csrfToken }).toString(),
    });
    expect(out.status).toBe(303);
    const before = await snapshot(h.core);
    expect(await triesWith(h, cookie, session.csrfToken)).toEqual(REFUSED);
    expect(await snapshot(h.core)).toBe(before);
  });

  it("refuses an expired session, and nothing changes", async () => {
    const session = await startSession(h.core, personId, "token", 3_600_000);
    await h.core.db.execute(sql`update web_sessions set expires_at = now() - interval '1 second' where csrf_token = ${session.csrfToken}`);
    const before = await snapshot(h.core);
    expect(await triesWith(h, cookieOf(session.secret), session.csrfToken)).toEqual(REFUSED);
    const me = await fetch(`${h.url}/v1/me`, { headers: { cookie: cookieOf(session.secret) } });
    expect(((await me.json()) as { reason: string }).reason).toBe("session_expired");
    expect(await snapshot(h.core)).toBe(before);
  });

  it("refuses a state-changing /v1 request with the cookie but without the session's CSRF token (a cross-site form or fetch), and nothing changes", async () => {
    const session = await startSession(h.core, personId, "token", 3_600_000);
    const cookie = cookieOf(session.secret);
    const before = await snapshot(h.core);
    for (const csrf of [undefined, "", "wrong", `${session.csrfToken}x`]) {
      const headers: Record<string, string> = { cookie, "content-type": "application/json", origin: "https://evil.example" };
      if (csrf !== undefined) headers["x-csrf-token"] = csrf;
      const res = await fetch(`${h.url}/v1/checkouts`, { method: "POST", headers, body: JSON.stringify({ pool: "linux" }) });
      expect(res.status, String(csrf)).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe("csrf_failed");
    }
    expect(await snapshot(h.core)).toBe(before);
    // The same request with the token is the page's own, and is done.
    const own = await fetch(`${h.url}/v1/checkouts`, { method: "POST", headers: { cookie, "content-type": "application/json", "x-csrf-token": session.csrfToken }, body: JSON.stringify({ pool: "linux" }) });
    expect(own.status).toBe(201);
  });

  it("refuses a cross-site POST to /logout (the person stays signed in) and to /login (no session opened)", async () => {
    const session = await startSession(h.core, personId, "token", 3_600_000);
    const cookie = cookieOf(session.secret);
    const bob = await personWithToken(h.core, "bob");
    const before = await snapshot(h.core);
    const [sessions] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from web_sessions where ended_at is null`);
    const form = (path: string, fields: Record<string, string>, headers: Record<string, string>) =>
      fetch(h.url + path, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(fields).toString() });
    // A cross-site form cannot know the CSRF token; even a stolen one is refused from another origin.
    expect((await form("/logout", {}, { cookie, origin: "https://evil.example", "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await form("/logout", { csrf: session.csrfToken }, { cookie, origin: "https://evil.example" })).status).toBe(403);
    expect((await form("/login", { token: bob.token, next: "/" }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await form("/login", { token: bob.token, next: "/" }, { "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await fetch(`${h.url}/v1/me`, { headers: { cookie } })).status).toBe(200);
    const [after] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from web_sessions where ended_at is null`);
    expect(after?.n).toBe(sessions?.n);
    expect(await snapshot(h.core)).toBe(before);
  });
});
