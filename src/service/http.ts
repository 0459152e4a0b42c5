import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import { isLocalRequest, type TrustProxy } from "./proxy-trust.js";

export { isLocalRequest } from "./proxy-trust.js";

/** A part of the service that can report whether it is ready (database, Slack, …). */
export interface HealthCheck {
  name: string;
  /** Resolves to a short status; `ready: false` explains itself in `detail`. */
  check(): Promise<{ ready: boolean; detail: string }>;
  /** When false, this part being down does not make /healthz answer 503. */
  critical: boolean;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The service's one HTTP listener: `GET /healthz`, plus whatever handlers the
 * adapters mount by path prefix (the Slack bot mounts `/slack/`).
 */
export class HttpService {
  private readonly server: Server;
  private readonly mounts: { prefix: string; handler: RequestHandler }[] = [];
  private readonly checks: HealthCheck[] = [];
  private started = false;

  /** `trustProxy`: TRUST_PROXY, which peers' X-Forwarded-For says who the client is (see proxy-trust.ts). */
  constructor(
    private readonly log: Logger,
    private readonly trustProxy: TrustProxy = false,
  ) {
    this.server = createServer((req, res) => this.route(req, res));
    // Keep-alive sockets would hold close() open until their timeout.
    this.server.keepAliveTimeout = 5000;
  }

  /** Whether a request comes from this machine itself (not relayed by a proxy), as TRUST_PROXY says. */
  isLocal(req: IncomingMessage): boolean {
    return isLocalRequest(req, this.trustProxy);
  }

  addHealthCheck(check: HealthCheck): void {
    this.checks.push(check);
  }

  mount(prefix: string, handler: RequestHandler): void {
    this.mounts.push({ prefix, handler });
  }

  /** Marks start-up as done: /readyz answers 200 from now on while every critical part is ready. */
  markStarted(): void {
    this.started = true;
  }

  /**
   * Binds the port. Called first thing at start, so a second vmres on a busy
   * port stops before it touches the database, with a message saying what to set.
   */
  async listen(port: number, host = "0.0.0.0"): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE") reject(new StartupError(`port ${port} is in use on ${host}; set PORT to a free port (another vmres may be running)`));
        else if (err.code === "EADDRNOTAVAIL") reject(new StartupError(`cannot listen on ${host}: no such address on this machine; set HOST (default 0.0.0.0)`));
        else if (err.code === "EACCES") reject(new StartupError(`not allowed to listen on port ${port}; set PORT to 1024 or above`));
        else reject(err);
      });
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    return typeof address === "object" && address ? address.port : port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if ((path === "/healthz" || path === "/readyz") && (req.method === "GET" || req.method === "HEAD")) {
      this.health(req, res, path === "/readyz").catch((err: unknown) => {
        this.log.error({ err }, "health check failed unexpectedly");
        if (!res.headersSent) res.writeHead(500).end();
      });
      return;
    }
    // The longest prefix wins: the web page, mounted at "/", gets what no other part claims.
    const mount = this.mounts.filter((m) => path.startsWith(m.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
    if (mount) return mount.handler(req, res);
    if (!this.started) {
      // Slack retries a delivery that got a 5xx; a 404 would look like a wrong Request URL.
      res.writeHead(503, { "content-type": "application/json", "retry-after": "5" }).end(JSON.stringify({ error: "vmres is starting" }));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found", path }));
  }

  /**
   * /healthz: alive, and the critical parts (the database) answer. /readyz: that,
   * and start-up is over (migrations, inventory sync, components), so traffic may come.
   */
  private async health(req: IncomingMessage, res: ServerResponse, readiness: boolean): Promise<void> {
    const results = await Promise.all(
      this.checks.map(async (c) => {
        const timeout = new Promise<{ ready: boolean; detail: string }>((resolve) =>
          setTimeout(() => resolve({ ready: false, detail: "no answer within 2 s" }), 2000).unref(),
        );
        const result = await Promise.race([c.check().catch((err: unknown) => ({ ready: false, detail: String(err) })), timeout]);
        return { name: c.name, critical: c.critical, ...result };
      }),
    );
    const starting = readiness && !this.started;
    const healthy = !starting && results.every((r) => r.ready || !r.critical);
    const status = starting ? "starting" : healthy ? "ok" : "unavailable";
    // The details name the workspace, the bot user and the outbox backlog: only for whoever is on this machine.
    const body = this.isLocal(req)
      ? { status, checks: Object.fromEntries(results.map((r) => [r.name, { ready: r.ready, detail: r.detail }])) }
      : { status };
    res.writeHead(healthy ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body));
  }
}

/** Start-up cannot go on for a reason the operator fixes in the configuration; the message says what to set. */
export class StartupError extends Error {
  readonly code = "startup_failed";
}
