/**
 * A pass-through in front of the fake Slack Web API that answers some calls
 * itself, chosen by method and arguments: a post to one channel refused the
 * way Slack refuses a channel the app is not in, or apps.connections.open
 * answered with the URL of a local Socket Mode server. Every other call
 * reaches the fake and is recorded there. (The fake's own failure modes apply
 * to a whole method; these depend on the arguments.)
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** The JSON to answer with, or undefined to pass the call on to the fake. */
export type Intercept = (method: string, args: URLSearchParams) => Record<string, unknown> | undefined;

export class SlackProxy {
  /** Calls answered by the intercept rather than the fake. */
  intercepted = 0;

  private constructor(
    private readonly server: Server,
    /** Web API base URL of the proxy, for SLACK_API_URL. */
    readonly url: string,
  ) {}

  static async start(target: string, intercept: Intercept): Promise<SlackProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new SlackProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const method = (req.url ?? "").replace(/^\/api\//, "").split("?")[0] ?? "";
        const answer = intercept(method, new URLSearchParams(raw));
        if (answer !== undefined) {
          proxy.intercepted++;
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
          return;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v;
        fetch(`${target}${method}`, { method: req.method ?? "POST", headers, body: raw })
          .then(async (r) => res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" }).end(await r.text()))
          .catch(() => res.destroy());
      });
    });
    return proxy;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
