import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpService, isLocalRequest } from "../../src/service/http.js";
import { createLogger } from "../../src/log.js";

let http: HttpService;
let url: string;

beforeAll(async () => {
  http = new HttpService(createLogger("silent"));
  http.addHealthCheck({ name: "slack", critical: false, check: async () => ({ ready: true, detail: "workspace acme (T0ACME), bot U0BOT, outbox backlog 3" }) });
  const port = await http.listen(0, "127.0.0.1");
  url = `http://127.0.0.1:${port}/healthz`;
});
afterAll(async () => http.close());

describe("/healthz", () => {
  it("tells a caller on this machine the details of each part", async () => {
    const body = await (await fetch(url)).json();
    expect(body).toEqual({ status: "ok", checks: { slack: { ready: true, detail: expect.stringContaining("workspace acme") } } });
  });

  it("tells a request relayed from the network only the status", async () => {
    const res = await fetch(url, { headers: { "x-forwarded-for": "203.0.113.7" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify({ status: "ok" }));
  });

  it("counts only loopback peers without forwarding headers as local", () => {
    const req = (remoteAddress: string, headers: Record<string, string> = {}) => ({ headers, socket: { remoteAddress } });
    expect(isLocalRequest(req("127.0.0.1"))).toBe(true);
    expect(isLocalRequest(req("::ffff:127.0.0.1"))).toBe(true);
    expect(isLocalRequest(req("::1"))).toBe(true);
    expect(isLocalRequest(req("203.0.113.7"))).toBe(false);
    expect(isLocalRequest(req("::ffff:198.51.100.4"))).toBe(false);
    expect(isLocalRequest(req("127.0.0.1", { forwarded: "for=203.0.113.7" }))).toBe(false);
  });
});
