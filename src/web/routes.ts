import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isAdmin, timeZoneOf } from "../core/people.js";
import type { Core } from "../core/types.js";
import type { Logger } from "../log.js";
import { authenticateSession, type SessionHolder } from "../core/web-sessions.js";
import type { LiveFeed } from "./live.js";
import { oidcRoutes, oidcSignInLink, type OidcIssuer } from "./oidc.js";
import { escapeHtml, plainPage } from "./page.js";
import { signInRoutes } from "./sign-in.js";
import { sessionSecretOf } from "./session-cookie.js";

export { escapeHtml, plainPage } from "./page.js";

/**
 * The web page (docs/web.md): the fifth adapter. The server only serves the
 * built page (dist/web, made by scripts/build.js from web/) and says who is
 * signed in; everything the page shows or changes goes through /v1 with the
 * session cookie, so the core decides for the page as for Slack, the CLI and the API.
 */

/** The page's paths: each serves the same document, whose script shows the page the path names. */
export const PAGES = ["/", "/vms", "/mine", "/calendar", "/admin"] as const;
/** Pages only admins may open (the API refuses their data to others too). */
const ADMIN_PAGES = new Set<string>(["/admin"]);

/**
 * Where the built page lives: dist/page, beside this file's compiled copy (so a
 * running process serves the build it started with), or, run from the sources
 * (tests), the current build.
 */
const BUILT = fileURLToPath(new URL(import.meta.url.includes("/src/web/") ? "../../dist/page/" : "../page/", import.meta.url));

export interface WebDeps {
  core: Core;
  log: Logger;
  /** WEB_SESSION_LIFETIME: how long a session opened by a sign-in lasts. */
  sessionLifetimeMs: number;
  /** This process's live-update streams (GET /web/events). */
  live: LiveFeed;
  /** OpenID Connect sign-in (src/web/oidc.ts), or null: token sign-in only. */
  oidc: OidcIssuer | null;
}

export async function webRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const indexFile = `${BUILT}index.html`;
  const built = existsSync(indexFile);
  // Read once: the build is immutable (scripts/build.js swaps whole folders).
  const index = built ? readFileSync(indexFile, "utf8") : null;
  if (built) {
    // The assets keep their names from one release to the next (app.js, style.css): a browser asks
    // again each time (no-cache, answered 304 by ETag when unchanged), so an upgrade shows at once.
    await app.register(fastifyStatic, {
      root: `${BUILT}assets`,
      prefix: "/assets/",
      decorateReply: false,
      cacheControl: false,
      setHeaders: (res) => void res.header("cache-control", "no-cache"),
    });
  }

  /** The signed-in person of a page request, or null. */
  const sessionOf = async (req: FastifyRequest): Promise<SessionHolder | null> => {
    const secret = sessionSecretOf(req);
    if (!secret) return null;
    const found = await authenticateSession(deps.core, secret);
    return "rejected" in found ? null : found.holder;
  };

  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    const holder = await sessionOf(req);
    const path = req.routeOptions.url ?? "/";
    if (!holder) return reply.redirect(`/login?next=${encodeURIComponent(path)}`, 303);
    if (ADMIN_PAGES.has(path) && !(await isAdmin(deps.core, { person: { id: holder.person.id, known: holder.person }, source: "web" }))) {
      return reply.code(403).type("text/html; charset=utf-8").send(plainPage("Admins only", `<p>This page is for vmres admins; ${escapeHtml(holder.person.name)} is not one. <a href="/">Back to the pools</a>.</p>`));
    }
    if (!index) return reply.code(503).type("text/html; charset=utf-8").send(plainPage("The page is not built", "<p>Run <code>npm run build</code> (npm start does it).</p>"));
    return reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(index);
  };
  for (const path of PAGES) app.get(path, { schema: { hide: true } }, page);

  // Sign-in with OpenID Connect: /auth/oidc/start and the callback at OIDC_REDIRECT_URL's path.
  if (deps.oidc) oidcRoutes(app, { core: deps.core, oidc: deps.oidc, sessionLifetimeMs: deps.sessionLifetimeMs, log: deps.log });

  signInRoutes(app, {
    core: deps.core,
    sessionLifetimeMs: deps.sessionLifetimeMs,
    onSignOut: (sessionId) => deps.live.endSession(sessionId),
    // The sign-in page lists OpenID Connect's "Sign in with …" above the token form.
    providers: (next) => {
      const link = oidcSignInLink(deps.oidc, next);
      return link ? [link] : [];
    },
  });

  // Live updates: an event stream that says what changed; the page fetches again through /v1.
  app.get("/web/events", { schema: { hide: true } }, async (req, reply) => {
    const secret = sessionSecretOf(req);
    const found = secret ? await authenticateSession(deps.core, secret) : null;
    if (!secret || !found || "rejected" in found) return reply.code(401).send({ signedIn: false, signIn: "/login" });
    return deps.live.open(req, reply, found.holder, secret);
  });

  // Who is signed in, and the CSRF token the page sends back on every change.
  app.get("/web/session", { schema: { hide: true } }, async (req, reply) => {
    const holder = await sessionOf(req);
    if (!holder) return reply.code(401).send({ signedIn: false, signIn: "/login" });
    const actor = { person: { id: holder.person.id, known: holder.person }, source: "web" as const };
    const [admin, timeZone] = await Promise.all([isAdmin(deps.core, actor), timeZoneOf(deps.core, holder.person.id)]);
    return reply.header("cache-control", "no-store").send({ signedIn: true, person: holder.person, admin, timeZone, via: holder.via, csrfToken: holder.csrfToken });
  });
}
