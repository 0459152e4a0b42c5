import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeToken } from "../../src/core/tokens.js";
import { personWithToken, snapshot, startApiHarness, type Harness } from "../api/helpers.js";

/** A form post as a browser sends it; `origin` as a same-site page would (set it to another to play a cross-site form). */
async function postForm(h: Harness, path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(h.url + path, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: h.url, ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The session cookie a response sets, as `name=value`, and its attributes. */
function sessionCookieOf(res: Response): { pair: string; name: string; value: string; attributes: string } | null {
  const cookie = res.headers.getSetCookie().find((c) => /^(__Host-)?vmres_session=/.test(c));
  if (!cookie) return null;
  const [pair = "", ...rest] = cookie.split(";");
  const [name = "", value = ""] = pair.split("=");
  return { pair, name, value, attributes: rest.join(";") };
}

async function sessionCount(h: Harness): Promise<number> {
  const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from web_sessions`);
  return row?.n ?? -1;
}

describe("signing in to the web page with an API token", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startApiHarness({ WEB_SESSION_LIFETIME: "2h" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("shows a labelled token field and keeps where the person was going", async () => {
    const res = await fetch(`${h.url}/login?next=%2Fmine`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('<label for="token">API token');
    expect(page).toContain('<input type="hidden" name="next" value="/mine">');
  });

  it("signs a person in with their token: an HttpOnly, SameSite=Lax cookie, then on to where they were going", async () => {
    const ann = await personWithToken(h.core, "ann");
    const res = await postForm(h, "/login", { token: ann.token, next: "/calendar" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/calendar");
    const cookie = sessionCookieOf(res);
    expect(cookie?.name).toBe("vmres_session");
    expect(cookie?.attributes).toMatch(/HttpOnly/i);
    expect(cookie?.attributes).toMatch(/SameSite=Lax/i);
    expect(cookie?.attributes).toMatch(/Path=\//);
    const session = await fetch(`${h.url}/web/session`, { headers: { cookie: cookie?.pair ?? "" } });
    expect(session.status).toBe(200);
    const body = (await session.json()) as { person: { name: string }; via: string };
    expect(body.person.name).toBe("ann");
    expect(body.via).toBe("token");
  });

  it("opens a session that lasts WEB_SESSION_LIFETIME, and the cookie ends with it", async () => {
    const joe = await personWithToken(h.core, "joe");
    const cookie = sessionCookieOf(await postForm(h, "/login", { token: joe.token, next: "/" }));
    const [row] = await h.core.db.execute<{ lifetime: number; expires: string }>(
      sql`select extract(epoch from s.expires_at - s.created_at)::int as lifetime, to_char(s.expires_at at time zone 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS') as expires
          from web_sessions s join people p on p.id = s.person_id where p.name = 'joe'`,
    );
    expect(row?.lifetime).toBe(2 * 3600);
    expect(cookie?.attributes).toContain(`Expires=${row?.expires} GMT`);
  });

  it("sends a person who is signed in already from the sign-in page on to where they were going", async () => {
    const kay = await personWithToken(h.core, "kay");
    const cookie = sessionCookieOf(await postForm(h, "/login", { token: kay.token, next: "/" }));
    const res = await fetch(`${h.url}/login?next=%2Fvms`, { headers: { cookie: cookie?.pair ?? "" }, redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/vms");
  });

  it("sends the person only to a path on this site, never to another host (no open redirect)", async () => {
    const ann = await personWithToken(h.core, "ann2");
    for (const next of ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/\t/evil.example"]) {
      const res = await postForm(h, "/login", { token: ann.token, next });
      expect(res.status, next).toBe(303);
      expect(res.headers.get("location"), next).toBe("/");
    }
  });

  it("refuses a wrong, revoked or service token with a 401 page saying what was wrong and what to do, and stores nothing", async () => {
    const bob = await personWithToken(h.core, "bob");
    const ci = await personWithToken(h.core, "ci-bot", { kind: "service" });
    const revoked = await personWithToken(h.core, "carol");
    const done = await revokeToken(h.core, { person: "operator", source: "cli" }, revoked.id);
    expect(done.ok).toBe(true);
    const before = await snapshot(h.core);
    const sessions = await sessionCount(h);
    const cases: [string, RegExp][] = [
      ["not-a-token", /not a vmres API token/],
      [`${bob.token.slice(0, -1)}${bob.token.endsWith("A") ? "B" : "A"}`, /not known to vmres/],
      [revoked.token, /has been revoked/],
      [ci.token, /belongs to a service/],
      ["", /Paste your API token/],
    ];
    for (const [token, words] of cases) {
      const res = await postForm(h, "/login", { token, next: "/" });
      expect(res.status, token).toBe(token === "" ? 400 : 401);
      expect(sessionCookieOf(res), token).toBeNull();
      const page = await res.text();
      expect(page, token).toMatch(/<p role="alert" id="sign-in-error">/);
      expect(page, token).toMatch(words);
      expect(page, token).toContain('aria-invalid="true"');
    }
    expect(await sessionCount(h)).toBe(sessions);
    expect(await snapshot(h.core)).toBe(before);
  });

  it("refuses a sign-in form sent from another site (login CSRF) and opens no session", async () => {
    const dan = await personWithToken(h.core, "dan");
    const sessions = await sessionCount(h);
    for (const headers of [{ origin: "https://evil.example" }, { origin: "null" }, { "sec-fetch-site": "cross-site" }] as Record<string, string>[]) {
      const res = await postForm(h, "/login", { token: dan.token, next: "/" }, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(sessionCookieOf(res)).toBeNull();
      expect(await res.text()).toMatch(/from another site|from an unknown origin|not from this site/);
    }
    expect(await sessionCount(h)).toBe(sessions);
  });

  it("signs out: the session ends on the server, the cookie is cleared, and the person lands on the sign-in page", async () => {
    const eve = await personWithToken(h.core, "eve");
    const cookie = sessionCookieOf(await postForm(h, "/login", { token: eve.token, next: "/" }));
    const session = (await (await fetch(`${h.url}/web/session`, { headers: { cookie: cookie?.pair ?? "" } })).json()) as { csrfToken: string };
    const res = await postForm(h, "/logout", { csrf: session.csrfToken }, { cookie: cookie?.pair ?? "" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login");
    const cleared = sessionCookieOf(res);
    expect(cleared?.value).toBe("");
    expect(cleared?.attributes).toMatch(/Expires=Thu, 01 Jan 1970/);
    const again = await fetch(`${h.url}/v1/me`, { headers: { cookie: cookie?.pair ?? "" } });
    expect(again.status).toBe(401);
    expect(((await again.json()) as { reason: string }).reason).toBe("session_ended");
  });

  it("keeps a person signed in when a sign-out comes without the session's CSRF token", async () => {
    const fay = await personWithToken(h.core, "fay");
    const cookie = sessionCookieOf(await postForm(h, "/login", { token: fay.token, next: "/" }));
    for (const fields of [{}, { csrf: "wrong" }] as Record<string, string>[]) {
      const res = await postForm(h, "/logout", fields, { cookie: cookie?.pair ?? "" });
      expect(res.status).toBe(403);
      expect(sessionCookieOf(res)).toBeNull();
    }
    expect((await fetch(`${h.url}/v1/me`, { headers: { cookie: cookie?.pair ?? "" } })).status).toBe(200);
  });
});

describe("the session cookie behind a reverse proxy", () => {
  it("is __Host-vmres_session with Secure when a proxy TRUST_PROXY trusts says the page was reached over https", async () => {
    const h = await startApiHarness({ TRUST_PROXY: "loopback" });
    try {
      const gus = await personWithToken(h.core, "gus");
      const res = await postForm(h, "/login", { token: gus.token, next: "/" }, { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7", origin: h.url.replace("http:", "https:") });
      expect(res.status).toBe(303);
      const cookie = sessionCookieOf(res);
      expect(cookie?.name).toBe("__Host-vmres_session");
      expect(cookie?.attributes).toMatch(/Secure/);
      expect(cookie?.attributes).toMatch(/Path=\//);
      expect(cookie?.attributes).not.toMatch(/Domain=/i);
    } finally {
      await h.stop();
    }
  });

  it("ignores X-Forwarded-Proto from a peer TRUST_PROXY does not trust (the cookie stays the plain one)", async () => {
    const h = await startApiHarness();
    try {
      const hal = await personWithToken(h.core, "hal");
      const res = await postForm(h, "/login", { token: hal.token, next: "/" }, { "x-forwarded-proto": "https" });
      expect(res.status).toBe(303);
      const cookie = sessionCookieOf(res);
      expect(cookie?.name).toBe("vmres_session");
      expect(cookie?.attributes).not.toMatch(/Secure/);
    } finally {
      await h.stop();
    }
  });
});

describe("ended sessions", () => {
  it("are forgotten a day after they ended or expired (the API's hourly pruning, run once at start)", async () => {
    const h = await startApiHarness();
    try {
      const ivy = await personWithToken(h.core, "ivy");
      const cookie = sessionCookieOf(await postForm(h, "/login", { token: ivy.token, next: "/" }));
      expect(cookie).not.toBeNull();
      await h.core.db.execute(sql`update web_sessions set ended_at = now() - interval '2 days', created_at = now() - interval '3 days', last_seen_at = now() - interval '3 days'`);
      const fresh = sessionCookieOf(await postForm(h, "/login", { token: ivy.token, next: "/" }));
      await h.restart();
      await expect.poll(() => sessionCount(h)).toBe(1);
      expect((await fetch(`${h.url}/v1/me`, { headers: { cookie: fresh?.pair ?? "" } })).status).toBe(200);
    } finally {
      await h.stop();
    }
  });
});
