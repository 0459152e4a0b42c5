import { Counter, Histogram, type Registry } from "prom-client";

/** One answered HTTP API request, as the API's hook reports it. */
export interface ApiRequest {
  /** The route's template (`/v1/vms/:name`), or `(unmatched)` when no route matched: never the raw URL. */
  route: string;
  method: string;
  status: number;
  seconds: number;
}

/** This process's HTTP API requests, by route template, method and status. */
export class HttpMetrics {
  private readonly requests: Counter<"route" | "method" | "status">;
  private readonly seconds: Histogram<"route" | "method">;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "vmres_http_requests_total",
      help: "HTTP API requests answered by this process, by route template (\"(unmatched)\" when no route matched), method and status",
      labelNames: ["route", "method", "status"],
      registers: [registry],
    });
    this.seconds = new Histogram({
      name: "vmres_http_request_duration_seconds",
      help: "Time from an HTTP API request's arrival to its answer, by route template and method (a checkout with wait takes up to its wait)",
      labelNames: ["route", "method"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers: [registry],
    });
  }

  /** Counts one request; bound so it can be handed to the API as it is. */
  readonly observe = (r: ApiRequest): void => {
    this.requests.inc({ route: r.route, method: r.method, status: String(r.status) });
    this.seconds.observe({ route: r.route, method: r.method }, r.seconds);
  };
}
