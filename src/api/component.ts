import { readFileSync } from "node:fs";
import type { Component, ServiceContext } from "../service/context.js";
import { oidcSettings } from "../config.js";
import { OidcIssuer } from "../web/oidc.js";
import { pruneSessions } from "../core/web-sessions.js";
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
  const { app, handler, idempotency, rateLimit, live } = await buildApi({
    core: ctx.core,
    log: ctx.log,
    rateLimit: { token: ctx.config.API_RATE_LIMIT, person: ctx.config.API_PERSON_RATE_LIMIT ?? ctx.config.API_RATE_LIMIT },
    claimTimeoutMs: ctx.config.IDEMPOTENCY_CLAIM_TIMEOUT_MS,
    bodyLimit: ctx.config.API_BODY_LIMIT,
    version: VERSION,
    shutdown: shutdown.signal,
    trustProxy: ctx.config.TRUST_PROXY,
    web: { sessionLifetimeMs: ctx.config.WEB_SESSION_LIFETIME, streamsPerPerson: ctx.config.WEB_EVENT_STREAMS_PER_PERSON, oidc },
    ...(ctx.metrics ? { observeRequest: ctx.metrics.http.observe } : {}),
  });
  // "/": the web page, and whatever no other part of the service claims (the longest prefix wins).
  for (const prefix of ["/v1/", "/v1", "/openapi.json", "/docs", "/"]) ctx.http.mount(prefix, handler);
  idempotency.start();
  // Web sessions that ended or expired over a day ago are forgotten on the rate limit's hourly timer.
  rateLimit.start([{ what: "ended web sessions", prune: () => pruneSessions(ctx.core) }]);
  return {
    name: "api",
    // Before the listener closes (it waits for open requests): waiting checkouts answer 503 and leave their queues.
    drain() {
      shutdown.abort();
      // Live-update streams never end by themselves: ended here, or the listener's close would wait for them.
      live.close();
    },
    async stop() {
      shutdown.abort();
      // Requests still running keep renewing their claims until they have answered.
      live.close();
      await app.close();
      idempotency.stop();
      rateLimit.stop();
      oidc?.stop();
    },
  };
}
