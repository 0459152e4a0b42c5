import { readFileSync } from "node:fs";
import type { Component, ServiceContext } from "../service/context.js";
import { oidcSettings } from "../config.js";
import { OidcIssuer } from "../web/oidc.js";
import { buildApi } from "./server.js";

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/**
 * The REST API as a part of the service: Fastify routes /v1, /openapi.json
 * and /docs on the service's one listener (mounted by prefix beside /healthz,
 * /metrics and /slack/), so it needs no port of its own.
 */
export async function startApi(ctx: ServiceContext): Promise<Component> {
  const shutdown = new AbortController();
  // Discovered now and retried in the background: an issuer that cannot be reached does not stop the service.
  const settings = oidcSettings(ctx.config);
  const oidc = settings ? new OidcIssuer(settings, ctx.log) : null;
  oidc?.start();
  const { app, handler, idempotency, rateLimit } = await buildApi({
    core: ctx.core,
    log: ctx.log,
    rateLimit: { token: ctx.config.API_RATE_LIMIT, person: ctx.config.API_PERSON_RATE_LIMIT ?? ctx.config.API_RATE_LIMIT },
    claimTimeoutMs: ctx.config.IDEMPOTENCY_CLAIM_TIMEOUT_MS,
    bodyLimit: ctx.config.API_BODY_LIMIT,
    version: VERSION,
    shutdown: shutdown.signal,
    web: { sessionLifetimeMs: ctx.config.WEB_SESSION_LIFETIME, oidc },
    ...(ctx.metrics ? { observeRequest: ctx.metrics.http.observe } : {}),
  });
  // "/": the web page, and whatever no other part of the service claims (the longest prefix wins).
  for (const prefix of ["/v1/", "/v1", "/openapi.json", "/docs", "/"]) ctx.http.mount(prefix, handler);
  idempotency.start();
  rateLimit.start();
  return {
    name: "api",
    // Before the listener closes (it waits for open requests): waiting checkouts answer 503 and leave their queues.
    drain() {
      shutdown.abort();
    },
    async stop() {
      shutdown.abort();
      // Requests still running keep renewing their claims until they have answered.
      await app.close();
      idempotency.stop();
      rateLimit.stop();
      oidc?.stop();
    },
  };
}
