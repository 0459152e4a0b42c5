import type { Api, RequestObserver } from "./types.js";

/** Methods kept as labels as they are; anything else is one "OTHER", so a client cannot add series. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Reports each answered request by its route's template (`/v1/vms/:name`), never the URL asked
 * for: a URL per VM, token or typo would make a series each. Requests no route matched are one
 * label value. Added on the root instance before the routes, so /v1's own hooks' answers (401,
 * 429) are counted too.
 */
export function countRequests(app: Api, observe: RequestObserver): void {
  app.addHook("onResponse", async (req, reply) => {
    observe({
      route: req.is404 ? "(unmatched)" : (req.routeOptions.url ?? "(unmatched)"),
      method: METHODS.has(req.method) ? req.method : "OTHER",
      status: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
    });
  });
}
