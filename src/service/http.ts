import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../log.js";

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

  constructor(private readonly log: Logger) {
    this.server = createServer((req, res) => this.route(req, res));
    // Keep-alive sockets would hold close() open until their timeout.
    this.server.keepAliveTimeout = 5000;
  }

  addHealthCheck(check: HealthCheck): void {
    this.checks.push(check);
  }

  mount(prefix: string, handler: RequestHandler): void {
    this.mounts.push({ prefix, handler });
  }

  async listen(port: number, host = "0.0.0.0"): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
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
    if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
      this.health(req, res).catch((err: unknown) => {
        this.log.error({ err }, "health check failed unexpectedly");
        if (!res.headersSent) res.writeHead(500).end();
      });
      return;
    }
    const mount = this.mounts.find((m) => path.startsWith(m.prefix));
    if (mount) return mount.handler(req, res);
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found", path }));
  }

  private async health(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const results = await Promise.all(
      this.checks.map(async (c) => {
        const timeout = new Promise<{ ready: boolean; detail: string }>((resolve) =>
          setTimeout(() => resolve({ ready: false, detail: "no answer within 2 s" }), 2000).unref(),
        );
        const result = await Promise.race([c.check().catch((err: unknown) => ({ ready: false, detail: String(err) })), timeout]);
        return { name: c.name, critical: c.critical, ...result };
      }),
    );
    const healthy = results.every((r) => r.ready || !r.critical);
    const status = healthy ? "ok" : "unavailable";
    // The details name the workspace, the bot user and the outbox backlog: only for whoever is on this machine.
    const body = isLocalRequest(req)
      ? { status, checks: Object.fromEntries(results.map((r) => [r.name, { ready: r.ready, detail: r.detail }])) }
      : { status };
    res.writeHead(healthy ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body));
  }
}

/**
 * A request from this machine itself, not relayed: a reverse proxy on the same
 * host connects from loopback too, but says whom it relays for in a forwarding header.
 */
export function isLocalRequest(req: Pick<IncomingMessage, "headers"> & { socket: { remoteAddress?: string | undefined } }): boolean {
  const relayed = req.headers["x-forwarded-for"] !== undefined || req.headers["forwarded"] !== undefined || req.headers["x-real-ip"] !== undefined;
  const peer = req.socket.remoteAddress ?? "";
  const loopback = peer === "::1" || /^(::ffff:)?127\./.test(peer);
  return loopback && !relayed;
}
