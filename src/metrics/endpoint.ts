import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Logger } from "../log.js";
import type { RequestHandler } from "../service/http.js";
import type { Metrics } from "./metrics.js";

/**
 * `GET /metrics` in Prometheus' text format. Callers on this machine may always
 * read it; from the network only with `Authorization: Bearer <METRICS_TOKEN>`,
 * since pool names, counts and backlog are not for whoever can reach the port.
 */
export function metricsHandler(metrics: Metrics, token: string | undefined, log: Logger, isLocal: (req: IncomingMessage) => boolean): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" }).end(JSON.stringify({ error: "use GET" }));
      return;
    }
    if (!isLocal(req) && !bearerMatches(req.headers.authorization, expected)) {
      const hint = expected === undefined ? "set METRICS_TOKEN and send it as a bearer token" : "send METRICS_TOKEN as a bearer token";
      res.writeHead(401, { "www-authenticate": "Bearer", "content-type": "application/json" }).end(JSON.stringify({ error: `metrics are served to this machine only; ${hint}` }));
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, "could not collect metrics");
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: "could not collect metrics; see the log" }));
      },
    );
  };
}

// Compared as digests so the comparison takes the same time whatever the length of the guess.
const digest = (value: string) => createHash("sha256").update(value).digest();

function bearerMatches(header: string | undefined, expected: Buffer | undefined): boolean {
  if (expected === undefined || header === undefined) return false;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected);
}
