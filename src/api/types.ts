import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Core } from "../core/types.js";
import type { Logger } from "../log.js";
import type { OidcIssuer } from "../web/oidc.js";
import type { TrustProxy } from "../service/proxy-trust.js";
import type { RateLimits } from "./rate-limit.js";

/** Told of every answered API request (the service counts them for /metrics). */
export type RequestObserver = (request: { route: string; method: string; status: number; seconds: number }) => void;

/** What the API needs: the core, the log, and its limits. */
export interface ApiDeps {
  core: Core;
  log: Logger;
  /** Requests per window per token (API_RATE_LIMIT) and per person (API_PERSON_RATE_LIMIT). */
  rateLimit: RateLimits;
  /** IDEMPOTENCY_CLAIM_TIMEOUT_MS: an Idempotency-Key claim not renewed for this long is taken over. */
  claimTimeoutMs: number;
  /** Largest request body, in bytes. */
  bodyLimit: number;
  version: string;
  /**
   * Aborted when the service stops: waiting requests answer 503 with Retry-After (their
   * Idempotency-Key released, as for every 5xx) and leave the queue; a create being waited for answers 202.
   */
  shutdown?: AbortSignal;
  /** Told of every answered request (the service's /metrics); none in tests that build the API alone. */
  observeRequest?: RequestObserver;
  /**
   * TRUST_PROXY: which peers' X-Forwarded-* headers are believed, so that behind a trusted proxy
   * that says https the web page's cookie is the Secure `__Host-` one. Default: none.
   */
  trustProxy?: TrustProxy;
  /**
   * The web page's settings (defaults: WEB_SESSION_LIFETIME 12h, WEB_EVENT_STREAMS_PER_PERSON 10),
   * and OpenID Connect sign-in when configured (null: token sign-in only).
   */
  web?: { sessionLifetimeMs: number; streamsPerPerson: number; oidc: OidcIssuer | null };
}

export type Api = FastifyInstance;
/** The /v1 scope, typed by its zod schemas. */
export type V1 = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

