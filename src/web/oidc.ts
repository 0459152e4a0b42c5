import type { FastifyInstance, FastifyReply } from "fastify";
import * as client from "openid-client";
import { SLACK_USER_CLAIM, type OidcSettings } from "../config.js";
import { personForSignIn, type SignInMatch } from "../core/sign-in.js";
import type { Core } from "../core/types.js";
import { startSession } from "../core/web-sessions.js";
import type { Logger } from "../log.js";
import { backoffDelayMs } from "../core/backoff.js";
import { localPath } from "./page.js";
import { clearLoginCookie, LOGIN_LIFETIME_MS, loginCookieOf, openLogin, sealLogin, setLoginCookie } from "./oidc-login.js";
import { escapeHtml, plainPage } from "./page.js";
import { setSessionCookie } from "./session-cookie.js";

/**
 * Signing in to the web page with OpenID Connect (docs/web.md, "Signing in"):
 * the authorization code flow with PKCE, `state` and `nonce`, all done by
 * openid-client (certified by the OpenID Foundation; vmres writes no OAuth of
 * its own). The issuer is discovered at start and retried in the background
 * (and at a sign-in) while it cannot be reached: the service starts anyway,
 * and token sign-in works meanwhile.
 */

/** The path that starts a sign-in; `?next=/path` says where to go once signed in. */
export const OIDC_START = "/auth/oidc/start";

/** First wait before discovering the issuer again; doubles up to RETRY_MAX_MS. */
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 60_000;

/** The issuer's configuration, discovered once and retried while the issuer cannot be reached. */
export class OidcIssuer {
  private discovered: client.Configuration | null = null;
  private attempt: Promise<client.Configuration | null> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    readonly settings: OidcSettings,
    private readonly log: Logger,
  ) {}

  /** Discovers the issuer now, and again with backoff until it answers. */
  start(): void {
    void this.configuration();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The issuer's configuration, or null while it cannot be reached (one attempt is shared by all callers). */
  async configuration(): Promise<client.Configuration | null> {
    if (this.discovered) return this.discovered;
    this.attempt ??= this.discover().finally(() => {
      this.attempt = null;
    });
    return this.attempt;
  }

  private async discover(): Promise<client.Configuration | null> {
    const { issuer, clientId, clientSecret } = this.settings;
    try {
      // Plain HTTP only for an issuer on this machine (config.ts refuses it elsewhere): a test's, or a trial's.
      const execute = issuer.protocol === "http:" ? [client.allowInsecureRequests] : [];
      this.discovered = await client.discovery(issuer, clientId, clientSecret, undefined, { execute, timeout: 10 });
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.log.info({ issuer: issuer.href, attempts: this.failures + 1 }, "OpenID Connect issuer discovered");
      return this.discovered;
    } catch (error) {
      this.failures++;
      const waitMs = backoffDelayMs(this.failures, { baseMs: RETRY_BASE_MS, maxMs: RETRY_MAX_MS, jitter: "none" });
      this.log.warn({ issuer: issuer.href, err: error, attempts: this.failures, retryInMs: waitMs }, "cannot discover the OpenID Connect issuer; sign-in with it waits, token sign-in works");
      if (!this.stopped && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.configuration();
        }, waitMs);
        this.timer.unref();
      }
      return null;
    }
  }
}

/** A way to sign in that the sign-in page lists under its token form. */
export interface SignInProvider {
  name: string;
  href: string;
}

/** The sign-in page's link to OpenID Connect sign-in, or null when it is not configured. */
export function oidcSignInLink(oidc: OidcIssuer | null | undefined, next?: string): SignInProvider | null {
  if (!oidc) return null;
  const path = next === undefined ? "/" : localPath(next);
  return { name: `Sign in with ${oidc.settings.name}`, href: path === "/" ? OIDC_START : `${OIDC_START}?next=${encodeURIComponent(path)}` };
}

export interface OidcDeps {
  core: Core;
  oidc: OidcIssuer;
  /** WEB_SESSION_LIFETIME. */
  sessionLifetimeMs: number;
  log: Logger;
}

/** Registers the start and the callback (at OIDC_REDIRECT_URL's path). */
export function oidcRoutes(app: FastifyInstance, deps: OidcDeps): void {
  const { oidc } = deps;
  const { settings } = oidc;
  const log = deps.log.child({ component: "web-oidc" });

  app.get(OIDC_START, { schema: { hide: true } }, async (req, reply) => {
    const configuration = await oidc.configuration();
    if (!configuration) return unavailable(reply, settings);
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const next = localPath((req.query as Record<string, unknown>)["next"]);
    setLoginCookie(req, reply, sealLogin(settings.clientSecret, { state, nonce, codeVerifier, next, expiresAt: Date.now() + LOGIN_LIFETIME_MS }));
    const to = client.buildAuthorizationUrl(configuration, {
      redirect_uri: settings.redirectUrl.href,
      scope: settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return reply.header("cache-control", "no-store").redirect(to.href, 303);
  });

  app.get(settings.redirectUrl.pathname, { schema: { hide: true } }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    // Good for one callback, whatever its outcome.
    const login = openLogin(settings.clientSecret, loginCookieOf(req));
    clearLoginCookie(req, reply);
    if (!login) {
      log.warn({ hadCookie: loginCookieOf(req) !== undefined }, "OpenID Connect callback without a sign-in started in this browser");
      return refused(reply, 400, "This sign-in has expired", `<p>This browser has no sign-in in progress: it took longer than ${LOGIN_LIFETIME_MS / 60_000} minutes, was used already, or was started in another browser.</p>${startAgain(settings)}`);
    }
    const configuration = await oidc.configuration();
    if (!configuration) return unavailable(reply, settings);
    const query = req.raw.url?.includes("?") ? req.raw.url.slice(req.raw.url.indexOf("?")) : "";
    // The URL the issuer sent the browser to, built on the configured redirect URL (not on Host or a
    // proxy's headers): openid-client checks `state` on it and sends it as redirect_uri with the code.
    const currentUrl = new URL(settings.redirectUrl.href);
    currentUrl.search = query;
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) throw new Error("the token response has no ID token");
      claims = { ...idToken };
      // Some issuers put profile claims (email…) only in UserInfo, not in the ID token.
      if (claims[settings.personClaim] === undefined) {
        claims = { ...(await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub)), ...claims };
      }
    } catch (error) {
      return refusedByIssuer(reply, settings, log, error);
    }
    const match = matchOf(settings, claims);
    if ("problem" in match) {
      log.warn({ claim: settings.personClaim, problem: match.problem }, "OpenID Connect sign-in names nobody");
      return refused(reply, 403, "Signed in, but not to vmres", `<p>${escapeHtml(match.problem)}</p>${startAgain(settings)}`);
    }
    const person = await personForSignIn(deps.core, match);
    if (!person) {
      log.warn({ claim: settings.personClaim, value: "slackUserId" in match ? match.slackUserId : match.identity }, "OpenID Connect sign-in of someone vmres does not know");
      return refused(reply, 403, "vmres does not know you yet", unknownText(settings, match));
    }
    const session = await startSession(deps.core, person.id, "oidc", deps.sessionLifetimeMs);
    setSessionCookie(req, reply, session.secret, session.expiresAt);
    log.info({ person: person.name, issuer: settings.issuer.href }, "signed in to the web page with OpenID Connect");
    return reply.redirect(login.next, 303);
  });
}

/** What the claims name: a Slack user, or an identity an admin links; or what is wrong with them. */
function matchOf(settings: OidcSettings, claims: Record<string, unknown>): SignInMatch | { problem: string } {
  const value = claims[settings.personClaim];
  if (typeof value !== "string" || value.trim() === "") {
    return { problem: `${settings.name} did not tell vmres your ${settings.personClaim} (the claim vmres knows people by). An admin may need to add a scope to OIDC_SCOPES, or choose another OIDC_PERSON_CLAIM.` };
  }
  if (settings.personClaim === SLACK_USER_CLAIM) return { slackUserId: value };
  // An address the issuer has not verified could be anyone's: only an explicit "verified" or no word at all is taken.
  if (settings.personClaim === "email" && claims["email_verified"] === false) {
    return { problem: `${settings.name} says your email address ${value} is not verified yet. Verify it there, then sign in again.` };
  }
  return { identity: value };
}

function unknownText(settings: OidcSettings, match: SignInMatch): string {
  if ("slackUserId" in match) {
    return `<p>You signed in with ${escapeHtml(settings.name)} as Slack user <code>${escapeHtml(match.slackUserId)}</code>, but vmres has not met you in Slack yet (or you are in another workspace).</p><p>Use any <code>/vm</code> command in Slack once (<code>/vm help</code> will do), then sign in again; or ask a vmres admin to add you: <code>vmres people add YOUR-NAME --slack-id ${escapeHtml(match.slackUserId)}</code>.</p>${startAgain(settings)}`;
  }
  return `<p>You signed in with ${escapeHtml(settings.name)} as <code>${escapeHtml(match.identity)}</code>, but no vmres person is linked to it.</p><p>Ask a vmres admin to link you: <code>vmres people link YOUR-NAME ${escapeHtml(match.identity)}</code>. Nothing was recorded.</p>${startAgain(settings)}`;
}

function refusedByIssuer(reply: FastifyReply, settings: OidcSettings, log: Logger, error: unknown) {
  if (error instanceof client.AuthorizationResponseError) {
    // The issuer said no (the person cancelled, or the client is not allowed): its words, as they are.
    log.warn({ error: error.error, description: error.error_description }, "the OpenID Connect issuer refused the sign-in");
    return refused(reply, 403, "Sign-in refused", `<p>${escapeHtml(settings.name)} did not sign you in: ${escapeHtml(error.error_description ?? error.error)}.</p>${startAgain(settings)}`);
  }
  const code = (error as { code?: unknown }).code;
  log.warn({ err: error, code }, "OpenID Connect callback refused");
  if (error instanceof client.ClientError || error instanceof client.ResponseBodyError) {
    // A wrong state or nonce, a code used already or expired, an ID token that does not verify: one answer, no detail an attacker could use.
    return refused(reply, 400, "Sign-in could not be verified", `<p>vmres could not verify this sign-in with ${escapeHtml(settings.name)} (a link used twice, or one that did not come from this browser's sign-in). Nothing was recorded.</p>${startAgain(settings)}`);
  }
  return refused(reply, 502, "Sign-in could not be finished", `<p>vmres could not reach ${escapeHtml(settings.name)} to finish the sign-in. Try again in a minute.</p>${startAgain(settings)}`);
}

function unavailable(reply: FastifyReply, settings: OidcSettings) {
  return refused(
    reply.header("retry-after", "30"),
    503,
    `Sign-in with ${settings.name} is not available now`,
    `<p>vmres cannot reach ${escapeHtml(settings.name)} (${escapeHtml(settings.issuer.href)}) at the moment; it keeps trying. Try again in a minute, or <a href="/login">sign in with an API token</a>.</p>`,
  );
}

function startAgain(settings: OidcSettings): string {
  return `<p><a href="${OIDC_START}">Sign in with ${escapeHtml(settings.name)} again</a> or <a href="/login">sign in with an API token</a>.</p>`;
}

function refused(reply: FastifyReply, status: number, title: string, body: string) {
  return reply.code(status).type("text/html; charset=utf-8").header("cache-control", "no-store").send(plainPage(title, body));
}

