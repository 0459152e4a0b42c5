import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Core } from "../core/types.js";
import { authenticateSession, endSession } from "../core/web-sessions.js";
import { signInWithToken, type TokenSignInRefusal } from "../core/web-sign-in.js";
import { escapeHtml, localPath, plainPage } from "./page.js";
import { clearSessionCookie, sameToken, sessionSecretOf, setSessionCookie } from "./session-cookie.js";

/**
 * Signing in and out of the web page (docs/web.md#signing-in): the sign-in
 * page, token sign-in (POST /login) and sign-out (POST /logout). OpenID
 * Connect (src/web/oidc.ts) adds its "Sign in with …" links to the same page
 * through `WebSignIn.providers`.
 */

/** Another way to sign in, shown on the sign-in page as a link above the token form (OpenID Connect issuers). */
export interface SignInLink {
  /** The link's words, like "Sign in with Slack". */
  name: string;
  /** Where the link goes (a local path that starts the sign-in, e.g. /login/oidc?next=…). */
  href: string;
}

export interface SignInPageOptions {
  /** Where to go once signed in: a local path (see `localPath`). */
  next: string;
  /** What was wrong with the last try, shown inline with role="alert". */
  error?: string | undefined;
  /** Other ways to sign in, listed first. */
  providers?: readonly SignInLink[];
  /** The API token form; on by default (the way in with no settings at all). */
  tokenForm?: boolean;
}

/** The sign-in page: other ways to sign in (links), then the API token form. Works without script. */
export function signInPage({ next, error, providers = [], tokenForm = true }: SignInPageOptions): string {
  const alert = error ? `<p role="alert" id="sign-in-error">${escapeHtml(error)}</p>` : "";
  const others =
    providers.length > 0
      ? `<ul class="sign-in-providers">${providers.map((p) => `<li><a class="button" href="${escapeHtml(p.href)}">${escapeHtml(p.name)}</a></li>`).join("")}</ul>`
      : "";
  const describedBy = error ? "token-help sign-in-error" : "token-help";
  const form = tokenForm
    ? `${providers.length > 0 ? "<h2>With an API token</h2>" : ""}<form method="post" action="/login">` +
      `<input type="hidden" name="next" value="${escapeHtml(next)}">` +
      `<p><label for="token">API token <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required size="50" aria-describedby="${describedBy}"${error ? ' aria-invalid="true"' : ""}></label></p>` +
      `<p id="token-help" class="muted">A token of your own: <code>vmres token create</code>, or <code>/vm token</code> in Slack. The page keeps only a session, never the token.</p>` +
      `<p><button type="submit">Sign in</button></p></form>`
    : "";
  return plainPage("Sign in", `${alert}${others}${form}`);
}


/**
 * Why a POST is refused as coming from another site, or null: its Origin names
 * another host (or is "null"), or the browser says Sec-Fetch-Site: cross-site.
 * A request with neither header (curl, an old browser) is let through: the
 * cookie's SameSite=Lax already keeps a cross-site POST from carrying a session.
 */
export function crossSiteReason(req: FastifyRequest): string | null {
  if (req.headers["sec-fetch-site"] === "cross-site") return "the browser says this form was sent from another site";
  const origin = req.headers.origin;
  if (origin === undefined) return null;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return `the request came from an unknown origin (${origin})`;
  }
  return host === req.host ? null : `the form was sent from ${origin}, not from this site`;
}

/** The sign-in page's words for a refused token: what was wrong, and what to do. */
const TOKEN_REFUSED: Record<TokenSignInRefusal, string> = {
  malformed: "That is not a vmres API token (they start with vmres_ and have 43 more characters). Paste the whole token.",
  unknown: "That token is not known to vmres (it may have been deleted). Make a new one with vmres token create, or /vm token in Slack.",
  revoked: "That token has been revoked. Make a new one with vmres token create, or /vm token in Slack.",
  expired: "That token has expired. Make a new one with vmres token create, or /vm token in Slack.",
  service: "That token belongs to a service (for CI jobs and scripts, which use the API). Sign in with a token of your own.",
};

/** What the sign-in routes need. */
export interface SignInDeps {
  core: Core;
  /** WEB_SESSION_LIFETIME in milliseconds. */
  sessionLifetimeMs: number;
  /** Other ways to sign in, asked for each time the page is drawn (OpenID Connect adds its issuer here). */
  providers?: (next: string) => readonly SignInLink[];
  /** Told of a session ended by sign-out here (its live-update streams close). */
  onSignOut?: (sessionId: number) => void;
}

const html = (reply: FastifyReply, status: number, body: string) =>
  reply.code(status).type("text/html; charset=utf-8").header("cache-control", "no-store").send(body);

export function signInRoutes(app: FastifyInstance, deps: SignInDeps): void {
  // Forms post application/x-www-form-urlencoded: parsed here, in the web page's scope only.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: 8192 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const providers = (next: string) => deps.providers?.(next) ?? [];

  app.get("/login", { schema: { hide: true } }, async (req, reply) => {
    const next = localPath((req.query as Record<string, unknown>).next);
    // Already signed in: on to where they were going.
    const secret = sessionSecretOf(req);
    if (secret && !("rejected" in (await authenticateSession(deps.core, secret)))) return reply.redirect(next, 303);
    return html(reply, 200, signInPage({ next, providers: providers(next) }));
  });

  app.post("/login", { schema: { hide: true } }, async (req, reply) => {
    const form = formOf(req.body);
    const next = localPath(form.next);
    const crossSite = crossSiteReason(req);
    if (crossSite) return html(reply, 403, signInPage({ next, providers: providers(next), error: `Not signed in: ${crossSite}. Open this page on this site and sign in here.` }));
    const token = form.token?.trim() ?? "";
    if (token === "") return html(reply, 400, signInPage({ next, providers: providers(next), error: "Paste your API token in the field below." }));
    const signedIn = await signInWithToken(deps.core, token, deps.sessionLifetimeMs);
    if (!signedIn.ok) return html(reply, 401, signInPage({ next, providers: providers(next), error: TOKEN_REFUSED[signedIn.refused] }));
    setSessionCookie(req, reply, signedIn.session.secret, signedIn.session.expiresAt);
    return reply.header("cache-control", "no-store").redirect(next, 303);
  });

  // Sign-out ends the session on the server (on every replica at once) and drops the cookie. The form
  // carries the session's CSRF token: a cross-site form cannot sign a person out.
  app.post("/logout", { schema: { hide: true } }, async (req, reply) => {
    const secret = sessionSecretOf(req);
    const found = secret ? await authenticateSession(deps.core, secret) : null;
    if (!secret || !found || "rejected" in found) {
      // Nothing to end: the cookie (if any) is already refused everywhere.
      clearSessionCookie(req, reply);
      return reply.redirect("/login", 303);
    }
    if (!sameToken(formOf(req.body).csrf, found.holder.csrfToken) || crossSiteReason(req)) {
      return html(reply, 403, plainPage("Not signed out", `<p role="alert">This sign-out did not come from the vmres page (its CSRF token is missing or wrong), so you are still signed in. Use the Sign out button on <a href="/">the page</a>.</p>`));
    }
    await endSession(deps.core, secret);
    deps.onSignOut?.(found.holder.sessionId);
    clearSessionCookie(req, reply);
    return reply.redirect("/login", 303);
  });
}

/** A form's fields as strings (a field sent twice keeps its last value); anything else as no fields. */
function formOf(body: unknown): Record<string, string | undefined> {
  if (typeof body !== "object" || body === null) return {};
  return Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === "string"));
}
