import { readFileSync } from "node:fs";
import type { Component, ServiceContext } from "../service/context.js";
import { buildApi } from "./server.js";

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/**
 * The REST API as a part of the service: Fastify routes /v1, /openapi.json
 * and /docs on the service's one listener (mounted by prefix beside /healthz,
 * /metrics and /slack/), so it needs no port of its own.
 */
export async function startApi(ctx: ServiceContext): Promise<Component> {
  const { app, handler, idempotency } = await buildApi({
    core: ctx.core,
    log: ctx.log,
    rateLimit: ctx.config.API_RATE_LIMIT,
    bodyLimit: ctx.config.API_BODY_LIMIT,
    version: VERSION,
    ...(ctx.metrics ? { observeRequest: ctx.metrics.http.observe } : {}),
  });
  for (const prefix of ["/v1/", "/v1", "/openapi.json", "/docs"]) ctx.http.mount(prefix, handler);
  idempotency.start();
  return {
    name: "api",
    async stop() {
      idempotency.stop();
      await app.close();
    },
  };
}
