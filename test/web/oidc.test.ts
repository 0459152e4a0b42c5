import { createServer } from "node:net";
import { calculatePKCECodeChallenge } from "openid-client";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR } from "../../src/core/people.js";
import { linkSignIn } from "../../src/core/sign-in.js";
import type { Core } from "../../src/core/types.js";
import { openLogin } from "../../src/web/oidc-login.js";
import { call, personWithToken, snapshot, startApiHarness, type Harness } from "../api/helpers.js";
import { chromiumMissing, launchBrowser, seriousViolations } from "./browser.js";
import { CookieJar, follow, get, SLACK_USER_CLAIM, startIssuer, TEST_CLIENT_ID, TEST_CLIENT_SECRET, type TestIssuer } from "./issuer.js";

/** A port no one listens on now (the service's redirect URL and the issuer's URL are settings, so they are known before start). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sessions = async (core: Core): Promise<number> => Number((await core.db.$client<{ n: string }[]>`select count(*) as n from web_sessions`)[0]?.n);

/** Everything a refused sign-in must leave as it was: the tests' usual snapshot, and the sessions. */
const state = async (core: Core): Promise<string> => `${await snapshot(core)}|sessions:${await sessions(core)}`;

async function oidcService(issuerPort: number, env: Record<string, string> = {}): Promise<{ h: Harness; redirect: string }> {
  const port = await freePort();
  const redirect = `http://127.0.0.1:${port}/auth/oidc/callback`;
  const h = await startApiHarness({
    PORT: String(port),
    OIDC_ISSUER_URL: `http://127.0.0.1:${issuerPort}`,
    OIDC_CLIENT_ID: TEST_CLIENT_ID,
    OIDC_CLIENT_SECRET: TEST_CLIENT_SECRET,
    OIDC_REDIRECT_URL: redirect,
    LOG_LEVEL: process.env.OIDC_TEST_LOG ?? "silent",
    ...env,
  });
  return { h, redirect };
}

describe("signing in with OpenID Connect by email, against a real issuer (oidc-provider)", () => {
  let h: Harness;
  let issuer: TestIssuer | undefined;
  let issuerPort: number;
  let redirect: string;
  beforeAll(async () => {
    issuerPort = await freePort();
    ({ h, redirect } = await oidcService(issuerPort, { OIDC_NAME: "Example ID" }));
    const carol = await personWithToken(h.core, "carol");
    expect(carol.personId).toBeGreaterThan(0);
    const linked = await linkSignIn(h.core, { person: OPERATOR, source: "cli" }, "carol", "Carol@Example.com");
    expect(linked.ok).toBe(true);
  });
  afterAll(async () => {
    await issuer?.close();
    await h?.stop();
  });

  it("starts while the issuer cannot be reached (token sign-in works), then signs in through it once it answers", async () => {
    const down = await fetch(`${h.url}/auth/oidc/start`, { redirect: "manual" });
    expect(down.status).toBe(503);
    expect(await down.text()).toContain("cannot reach Example ID");
    const carol = await personWithToken(h.core, "carol-ci", { kind: "service" });
    expect((await call(h, "GET", "/v1/me", { token: carol.token })).status).toBe(200);

    issuer = await startIssuer(redirect, issuerPort);
    const up = await fetch(`${h.url}/auth/oidc/start`, { redirect: "manual" });
    expect(up.status).toBe(303);
    expect(up.headers.get("location")).toMatch(new RegExp(`^${issuer.url}/auth\\?`));
  });

  it("signs carol in by her email, whatever its case, and opens the page she was going to", async () => {
    issuer!.signInAs("carol-at-example", { email: "carol@example.com", email_verified: true });
    const jar = new CookieJar();
    const end = await follow(jar, `${h.url}/auth/oidc/start?next=${encodeURIComponent("/mine?tab=tokens")}`, (url) => url.startsWith(`${h.url}/mine`));
    expect(end.url).toBe(`${h.url}/mine?tab=tokens`);
    const session = await fetch(`${h.url}/web/session`, { headers: { cookie: jar.header(h.url) } });
    expect(session.status).toBe(200);
    expect(await session.json()).toMatchObject({ signedIn: true, person: { name: "carol" }, via: "oidc" });
    // The sign-in's cookie was good for one callback.
    expect(jar.get(h.url, "vmres_oidc")).toBeUndefined();
  });

  it("never sends a person to another site once signed in (next=//elsewhere goes to /)", async () => {
    issuer!.signInAs("carol-at-example", { email: "carol@example.com", email_verified: true });
    for (const next of ["//evil.example/x", "https://evil.example/", "/\\evil.example"]) {
      const jar = new CookieJar();
      const end = await follow(jar, `${h.url}/auth/oidc/start?next=${encodeURIComponent(next)}`, (url) => !url.startsWith(issuer!.url) && !url.startsWith(`${h.url}/auth/`));
      expect(end.url).toBe(`${h.url}/`);
    }
  });

  it("refuses a callback whose state is not the one this browser's sign-in sent, and changes nothing", async () => {
    issuer!.signInAs("carol-at-example", { email: "carol@example.com", email_verified: true });
    const jar = new CookieJar();
    const { url: callback } = await follow(jar, `${h.url}/auth/oidc/start`, (url) => url.startsWith(redirect));
    const before = await state(h.core);
    const forged = new URL(callback);
    forged.searchParams.set("state", "a-state-this-browser-never-sent");
    const res = await get(jar, forged.href);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("could not verify this sign-in");
    expect(jar.get(h.url, "vmres_session")).toBeUndefined();
    expect(await state(h.core)).toBe(before);
  });

  it("refuses an ID token minted for another sign-in's nonce, and changes nothing", async () => {
    issuer!.signInAs("carol-at-example", { email: "carol@example.com", email_verified: true });
    const jar = new CookieJar();
    const started = await get(jar, `${h.url}/auth/oidc/start`);
    expect(started.status).toBe(303);
    const login = openLogin(TEST_CLIENT_SECRET, jar.get(h.url, "vmres_oidc"));
    expect(login).not.toBeNull();
    // The same state and PKCE verifier as this browser's sign-in, but the issuer is asked for another nonce.
    const other = new URL(`${issuer!.url}/auth`);
    for (const [k, v] of Object.entries({
      client_id: TEST_CLIENT_ID,
      response_type: "code",
      redirect_uri: redirect,
      scope: "openid email",
      state: login!.state,
      nonce: "the-nonce-of-another-sign-in",
      code_challenge: await calculatePKCECodeChallenge(login!.codeVerifier),
      code_challenge_method: "S256",
    })) {
      other.searchParams.set(k, v);
    }
    const { url: callback } = await follow(jar, other.href, (url) => url.startsWith(redirect));
    expect(new URL(callback).searchParams.get("code")).toBeTruthy();
    const before = await state(h.core);
    const res = await get(jar, callback);
    expect(res.status).toBe(400);
    expect(jar.get(h.url, "vmres_session")).toBeUndefined();
    expect(await state(h.core)).toBe(before);
  });

  it("refuses a callback replayed with the same code (and the same sign-in cookie), and changes nothing", async () => {
    issuer!.signInAs("carol-at-example", { email: "carol@example.com", email_verified: true });
    const jar = new CookieJar();
    const { url: callback } = await follow(jar, `${h.url}/auth/oidc/start`, (url) => url.startsWith(redirect));
    const loginCookie = jar.get(h.url, "vmres_oidc")!;
    const first = await get(jar, callback);
    expect(first.status).toBe(303);
    expect(jar.get(h.url, "vmres_session")).toBeDefined();
    const before = await state(h.core);

    const replayer = new CookieJar();
    replayer.set(h.url, "vmres_oidc", loginCookie);
    const again = await get(replayer, callback);
    expect(again.status).toBe(400);
    expect(replayer.get(h.url, "vmres_session")).toBeUndefined();
    // And without the sign-in cookie at all.
    const bare = await get(new CookieJar(), callback);
    expect(bare.status).toBe(400);
    expect(await bare.text()).toContain("no sign-in in progress");
    expect(await state(h.core)).toBe(before);
  });

  it("tells someone no person is linked to their email whom to ask, and stores nothing", async () => {
    issuer!.signInAs("mallory", { email: "mallory@example.com", email_verified: true });
    const before = await state(h.core);
    const jar = new CookieJar();
    const end = await follow(jar, `${h.url}/auth/oidc/start`);
    expect(end.res?.status).toBe(403);
    const text = await end.res!.text();
    expect(text).toContain("vmres does not know you yet");
    expect(text).toContain("vmres people link YOUR-NAME mallory@example.com");
    expect(jar.get(h.url, "vmres_session")).toBeUndefined();
    expect(await state(h.core)).toBe(before);
  });

  it("refuses an email address the issuer says is not verified, even one linked to a person", async () => {
    issuer!.signInAs("carol-unverified", { email: "carol@example.com", email_verified: false });
    const before = await state(h.core);
    const jar = new CookieJar();
    const end = await follow(jar, `${h.url}/auth/oidc/start`);
    expect(end.res?.status).toBe(403);
    expect(await end.res!.text()).toContain("is not verified");
    expect(await state(h.core)).toBe(before);
  });
});

const missing = chromiumMissing();

describe.skipIf(missing !== null)("signing in with Slack's user id claim, in a real browser", () => {
  let h: Harness;
  let issuer: TestIssuer;
  let browser: Browser;
  beforeAll(async () => {
    const issuerPort = await freePort();
    const started = await oidcService(issuerPort, { OIDC_PERSON_CLAIM: SLACK_USER_CLAIM, OIDC_NAME: "Slack" });
    h = started.h;
    issuer = await startIssuer(started.redirect, issuerPort);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await issuer?.close();
    await h?.stop();
  });

  it("lands the person with that Slack user id on the page they asked for, signed in as them", async () => {
    await personWithToken(h.core, "dana", { slackId: "U0DANA0001" });
    // The email is another person's: a Slack sign-in goes by the Slack user id alone.
    await personWithToken(h.core, "erin");
    await linkSignIn(h.core, { person: OPERATOR, source: "cli" }, "erin", "dana@example.com");
    issuer.signInAs("dana-at-slack", { [SLACK_USER_CLAIM]: "U0DANA0001", email: "dana@example.com", email_verified: true });
    const context = await browser.newContext({ baseURL: h.url });
    const page = await context.newPage();
    await page.goto("/auth/oidc/start?next=/mine");
    await page.waitForURL(`${h.url}/mine`);
    const session = await page.evaluate(async () => (await fetch("/web/session")).json());
    expect(session).toMatchObject({ signedIn: true, person: { name: "dana", slackUserId: "U0DANA0001" }, via: "oidc" });
    await context.close();
  });

  it("tells a Slack user vmres has not met to use /vm once, creates nobody, and the page passes axe-core", async () => {
    issuer.signInAs("stranger-at-slack", { [SLACK_USER_CLAIM]: "U0STRANGE1" });
    const before = await state(h.core);
    const context = await browser.newContext({ baseURL: h.url });
    const page = await context.newPage();
    const res = await page.goto("/auth/oidc/start");
    expect(res?.status()).toBe(403);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("vmres does not know you yet");
    expect(await page.textContent("main")).toContain("/vm help");
    expect(await seriousViolations(page)).toEqual([]);
    expect((await context.cookies()).map((c) => c.name)).not.toContain("vmres_session");
    expect(await state(h.core)).toBe(before);
    await context.close();
  });
});

describe("the sign-in page's link to OpenID Connect", () => {
  it("is none without OIDC settings, and says whose sign-in it is, keeping only a local next", async () => {
    const { loadConfig, oidcSettings } = await import("../../src/config.js");
    const { createLogger } = await import("../../src/log.js");
    const { OidcIssuer, oidcSignInLink } = await import("../../src/web/oidc.js");
    expect(oidcSignInLink(null)).toBeNull();
    const settings = oidcSettings(
      loadConfig({ OIDC_ISSUER_URL: "https://slack.com", OIDC_CLIENT_ID: "1.2", OIDC_CLIENT_SECRET: "secret", OIDC_REDIRECT_URL: "https://vmres.example.com/auth/oidc/callback" }, null),
    );
    const slack = new OidcIssuer(settings!, createLogger("silent", "test"));
    expect(oidcSignInLink(slack)).toEqual({ name: "Sign in with Slack", href: "/auth/oidc/start" });
    expect(oidcSignInLink(slack, "/calendar?pool=gpu")).toEqual({ name: "Sign in with Slack", href: "/auth/oidc/start?next=%2Fcalendar%3Fpool%3Dgpu" });
    expect(oidcSignInLink(slack, "//evil.example")).toEqual({ name: "Sign in with Slack", href: "/auth/oidc/start" });
  });
});
