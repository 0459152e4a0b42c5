import fastifyCookie from "@fastify/cookie";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from "fastify";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { TokenCache } from "../core/token-cache.js";
import { authenticateToken, type TokenHolder } from "../core/tokens.js";
import { authenticateSession, type SessionRejection } from "../core/web-sessions.js";
import { hopTrust, type TrustProxy } from "../service/proxy-trust.js";
import { LiveFeed } from "../web/live.js";
import { webRoutes } from "../web/routes.js";
import { CSRF_HEADER, csrfMatches, SAFE_METHODS, sessionSecretOf } from "../web/session-cookie.js";
import type { Logger } from "../log.js";
import { checkoutRoutes } from "./checkouts.js";
import { Idempotency } from "./idempotency.js";
import { meRoutes } from "./me.js";
import { withoutUnusedSchemas } from "./openapi.js";
import { peopleRoutes } from "./people.js";
import { poolRoutes } from "./pools.js";
import { provisionRoutes } from "./provision.js";
import { httpProblem, type Problem } from "./problems.js";
import { sendProblem } from "./respond.js";
import { queueRoutes } from "./queues.js";
import { RateLimit } from "./rate-limit.js";
import { countRequests } from "./request-metrics.js";
import { reservationRoutes } from "./reservations.js";
import { tokenRoutes } from "./tokens.js";
import { vmRoutes } from "./vms.js";
import type { Api, ApiDeps } from "./types.js";

export type { Api, ApiDeps, V1 } from "./types.js";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * Who is calling: the person of the request's token (or of the web page's session), with the
     * token's id; set by the authentication hook on every /v1 route. Not a VM's holder.
     */
    caller: TokenHolder | null;
  }
}

/** A Fastify app whose handler the service's HTTP listener mounts; it never listens itself. */
export async function buildApi(
  deps: ApiDeps,
): Promise<{ app: Api; handler: (req: IncomingMessage, res: ServerResponse) => void; idempotency: Idempotency; rateLimit: RateLimit; live: LiveFeed }> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit,
    // The service's listener owns the port; Fastify only routes what it is handed.
    serverFactory: (h) => {
      handler = h;
      return createServer();
    },
    routerOptions: { ignoreTrailingSlash: true },
    // req.protocol and req.host from X-Forwarded-Proto/-Host only when the peer is a proxy TRUST_PROXY
    // trusts, by the same rule as /metrics' "on this machine" (src/service/proxy-trust.ts).
    trustProxy: trustedHop(deps.trustProxy ?? false),
  }) as unknown as Api;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest("caller", null);
  const log = deps.log.child({ component: "api" });
  app.setErrorHandler((err: FastifyError, req, reply) => sendProblem(reply, problemOfError(err, req, log)));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, httpProblem("not_found", `no endpoint ${req.method} ${req.url.split("?")[0]}; GET /openapi.json lists them`)));
  // One line per request, without headers or query: a token never reaches the log. A problem
  // (4xx, 5xx) at info; a success only at debug: the log's synchronous write per request was a
  // large share of the service's time per request (npm run bench, the api part's profile).
  const requestLine = log.isLevelEnabled("debug");
  app.addHook("onResponse", async (req, reply) => {
    if (reply.statusCode < 400 && !requestLine) return;
    log[reply.statusCode < 400 ? "debug" : "info"]({ method: req.method, route: req.routeOptions.url ?? "-", status: reply.statusCode, person: req.caller?.person.name, ms: Math.round(reply.elapsedTime) }, "api request");
  });
  if (deps.observeRequest) countRequests(app, deps.observeRequest);
  await app.register(fastifyCookie);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "vmres API",
        version: deps.version,
        description: "Lends VMs from a pool. Every /v1 call needs `Authorization: Bearer <token>` (vmres token create, or /vm token in Slack). Errors are application/problem+json (RFC 9457).",
        license: { name: "MIT", identifier: "MIT" },
      },
      // Relative: the document is served by the service it describes, at whatever address it is reached.
      servers: [{ url: "/", description: "this vmres service" }],
      components: { securitySchemes: { token: { type: "http", scheme: "bearer", description: "a vmres API token (vmres_…)" } } },
      security: [{ token: [] }],
    },
    // Every POST and DELETE takes an Idempotency-Key: said once here, so the document and the client know it.
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      const method = ([] as string[]).concat(input.route.method);
      if (!input.url.startsWith("/v1") || !method.some((m) => m === "POST" || m === "DELETE")) return out;
      const headers = {
        type: "object",
        properties: {
          "idempotency-key": {
            type: "string",
            minLength: 1,
            maxLength: 200,
            description: "retry-safe: a retry with the same key (per token, 24 h) gets the first answer and changes nothing more",
          },
        },
      };
      return { ...out, schema: { ...out.schema, headers } };
    },
    // The schemas given an id in schemas.ts (`.meta({ id })`) become components, referenced by $ref.
    transformObject: (input) => withoutUnusedSchemas(jsonSchemaTransformObject(input)),
  });
  // The explorer reads the document the service serves at /openapi.json (swagger-ui's `urls`
  // take precedence over the plugin's own ./json).
  await app.register(fastifySwaggerUi, { routePrefix: "/docs", uiConfig: { urls: [{ url: "/openapi.json", name: "vmres API" }] } });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // The web page (src/web/): its documents, assets and session; its data comes from /v1 below.
  const live = new LiveFeed(deps.core, log, deps.web?.streamsPerPerson ?? 10);
  await app.register(async (web) =>
    webRoutes(web, { core: deps.core, log, live, sessionLifetimeMs: deps.web?.sessionLifetimeMs ?? 12 * 3_600_000, oidc: deps.web?.oidc ?? null }),
  );

  // Accepted tokens, per process; emptied by every replica at the commit of a revocation (NOTIFY).
  const tokens = new TokenCache(log);
  app.addHook("onClose", async () => tokens.stop());
  const idempotency = new Idempotency(deps.core, log, deps.claimTimeoutMs);
  const rateLimit = new RateLimit(deps.core, log, deps.rateLimit);
  await app.register(
    async (v1) => {
      // The request pipeline, in this order: authentication and the rate limit (one statement,
      // before the body is read), then validation, then the Idempotency-Key claim (preHandler),
      // then the route. So a 401, 429, 400 or 413 is answered before any key is claimed and is
      // never stored as a key's answer.
      v1.addHook("onRequest", async (req, reply) => {
        const header = req.headers.authorization;
        const secret = header === undefined ? sessionSecretOf(req) : undefined;
        if (secret !== undefined) return authenticateBySession(req, reply, deps, rateLimit, secret);
        const token = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
        if (!token) return unauthorized(reply, "send the header Authorization: Bearer <token> (vmres token create, or /vm token in Slack)");
        const found = await authenticateToken(deps.core, token, rateLimit.windows, tokens);
        if ("rejected" in found) return unauthorized(reply, rejectionText[found.rejected], found.rejected);
        req.caller = found.holder;
        const limited = rateLimit.check(reply, found.counts);
        if (limited) return sendProblem(reply, limited);
      });
      idempotency.register(v1);
      const typed = v1.withTypeProvider<ZodTypeProvider>();
      checkoutRoutes(typed, deps);
      vmRoutes(typed, deps);
      poolRoutes(typed, deps);
      meRoutes(typed, deps);
      peopleRoutes(typed, deps);
      tokenRoutes(typed, deps);
      queueRoutes(typed, deps);
      reservationRoutes(typed, deps);
      provisionRoutes(typed, deps);
    },
    { prefix: "/v1" },
  );
  await app.ready();
  if (!handler) throw new Error("Fastify did not hand over its request handler");
  return { app, handler, idempotency, rateLimit, live };
}

/**
 * A /v1 request from the web page: its session cookie instead of a token, and
 * on every state-changing request the session's CSRF token in X-CSRF-Token (a
 * cross-site form or fetch cannot know it). Counted against the person's rate limit.
 */
async function authenticateBySession(req: FastifyRequest, reply: FastifyReply, deps: ApiDeps, rateLimit: RateLimit, secret: string): Promise<FastifyReply | undefined> {
  const found = await authenticateSession(deps.core, secret, rateLimit.windows);
  if ("rejected" in found) return unauthorized(reply, sessionRejectionText[found.rejected], `session_${found.rejected}`);
  if (!SAFE_METHODS.has(req.method) && !csrfMatches(req, found.holder.csrfToken)) {
    return sendProblem(reply, httpProblem("csrf_failed", `a state-changing request from the web page needs the session's CSRF token in the ${CSRF_HEADER} header (GET /web/session gives it); nothing was done`));
  }
  req.caller = found.holder;
  const limited = rateLimit.check(reply, found.counts);
  if (limited) return sendProblem(reply, limited);
  return undefined;
}

const sessionRejectionText: Record<SessionRejection, string> = {
  malformed: "that session cookie is not one vmres made; sign in again at /login",
  unknown: "that session is not known; sign in again at /login",
  ended: "that session was signed out; sign in again at /login",
  expired: "that session has expired; sign in again at /login",
};

const rejectionText = {
  malformed: "that is not a vmres token (they look like vmres_ and 43 more characters)",
  unknown: "that token is not known (or has been deleted)",
  revoked: "that token has been revoked; ask for a new one (vmres token create, or /vm token in Slack)",
  expired: "that token has expired; ask for a new one (vmres token create, or /vm token in Slack)",
} as const;

function unauthorized(reply: FastifyReply, detail: string, reason?: string): FastifyReply {
  void reply.header("www-authenticate", 'Bearer realm="vmres"');
  return sendProblem(reply, httpProblem("unauthorized", detail, reason ? { reason } : {}));
}


/** TRUST_PROXY as Fastify's trustProxy: false stays false (Fastify then ignores X-Forwarded-* at once). */
function trustedHop(trust: TrustProxy): false | ((address: string, hop: number) => boolean) {
  if (trust === false) return false;
  const trusted = hopTrust(trust);
  return (address, hop) => trusted(address, hop);
}

/** Fastify's and the schema's errors as problems that name the field at fault; anything else is a 500, logged. */
function problemOfError(err: FastifyError & { statusCode?: number; code?: string }, req: FastifyRequest, log: Logger): Problem {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => {
      const params = v.params as { keys?: string[] };
      const base = v.instancePath.split("/").filter(Boolean);
      const keys = v.keyword === "unrecognized_keys" ? (params.keys ?? []) : [];
      const where = err.validationContext ?? "body";
      const field = [...base, ...(keys.length === 1 ? keys : [])].join(".") || where;
      const message = keys.length > 0 ? `unknown field${keys.length > 1 ? "s" : ""} ${keys.join(", ")}: leave ${keys.length > 1 ? "them" : "it"} out` : (v.message ?? "invalid");
      return { field, in: where, message };
    });
    const first = issues[0];
    return httpProblem("bad_request", issues.map((i) => `${i.in} ${i.field}: ${i.message}`).join("; "), { field: first?.field, errors: issues });
  }
  if ("code" in err && err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return httpProblem("payload_too_large", `the body is larger than this API takes (API_BODY_LIMIT); send less`, { field: "body" });
  if ("code" in err && err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return httpProblem("unsupported_media_type", "send the body as JSON with Content-Type: application/json", { field: "body" });
  if ("code" in err && (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || (err as { statusCode?: number }).statusCode === 400)) {
    return httpProblem("bad_request", `the body is not valid JSON: ${err.message}`, { field: "body" });
  }
  log.error({ err, method: req.method, route: req.routeOptions.url, person: req.caller?.person.name }, "api request failed");
  return httpProblem("internal", "vmres failed unexpectedly; the error is in its log");
}
