import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Core } from "../core/types.js";
import type { Logger } from "../log.js";
import type { RequestObserver } from "./request-metrics.js";

/** What the API needs: the core, the log, and its limits. */
export interface ApiDeps {
  core: Core;
  log: Logger;
  /** Requests per window per token (API_RATE_LIMIT). */
  rateLimit: { max: number; windowMs: number };
  /** Largest request body, in bytes. */
  bodyLimit: number;
  version: string;
  /** Told of every answered request (the service's /metrics); none in tests that build the API alone. */
  observeRequest?: RequestObserver;
}

export type Api = FastifyInstance;
/** The /v1 scope, typed by its zod schemas. */
export type V1 = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

