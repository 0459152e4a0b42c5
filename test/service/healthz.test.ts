import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpService, isLocalRequest } from "../../src/service/http.js";
import { createLogger } from "../../src/log.js";
import { loadConfig } from "../../src/config.js";

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

describe("/healthz behind a reverse proxy on this host (TRUST_PROXY)", () => {
  let proxied: HttpService;
  let at: string;
  beforeAll(async () => {
    proxied = new HttpService(createLogger("silent"), loadConfig({ TRUST_PROXY: "loopback" }, null).TRUST_PROXY);
    proxied.addHealthCheck({ name: "slack", critical: false, check: async () => ({ ready: true, detail: "workspace acme (T0ACME), bot U0BOT, outbox backlog 3" }) });
    at = `http://127.0.0.1:${await proxied.listen(0, "127.0.0.1")}/healthz`;
  });
  afterAll(async () => proxied.close());

  it("tells a request the proxy relays without X-Forwarded-For only the status: it may come from anyone", async () => {
    const res = await fetch(at);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify({ status: "ok" }));
  });

  it("tells the details to a caller on this machine that the proxy relays, and only the status to one elsewhere", async () => {
    expect(await (await fetch(at, { headers: { "x-forwarded-for": "127.0.0.1" } })).json()).toMatchObject({ checks: { slack: { ready: true } } });
    expect(await (await fetch(at, { headers: { "x-forwarded-for": "203.0.113.7" } })).text()).toBe(JSON.stringify({ status: "ok" }));
    // A client cannot pass itself off as local by sending its own header: the proxy appends the real peer.
    expect(await (await fetch(at, { headers: { "x-forwarded-for": "127.0.0.1, 203.0.113.7" } })).text()).toBe(JSON.stringify({ status: "ok" }));
  });
});

describe("which requests count as local", () => {
  const req = (remoteAddress: string, headers: Record<string, string> = {}) => ({ headers, socket: { remoteAddress } });
  const trust = (text: string) => loadConfig({ TRUST_PROXY: text }, null).TRUST_PROXY;

  it("finds the client behind trusted proxies as Fastify does: by address list, by hop count, or every hop", () => {
    const proxies = trust("10.0.0.5, 192.168.0.0/16");
    expect(isLocalRequest(req("10.0.0.5", { "x-forwarded-for": "127.0.0.1" }), proxies)).toBe(true);
    expect(isLocalRequest(req("10.0.0.5", { "x-forwarded-for": "127.0.0.1, 192.168.4.4" }), proxies)).toBe(true);
    expect(isLocalRequest(req("10.0.0.5", { "x-forwarded-for": "127.0.0.1, 198.51.100.4" }), proxies)).toBe(false);
    expect(isLocalRequest(req("10.0.0.6", { "x-forwarded-for": "127.0.0.1" }), proxies)).toBe(false);
    expect(isLocalRequest(req("::ffff:10.0.0.5"), proxies)).toBe(false);
    expect(isLocalRequest(req("127.0.0.1"), proxies)).toBe(true);
    expect(isLocalRequest(req("127.0.0.1", { "x-forwarded-for": "203.0.113.7" }), proxies)).toBe(false);
    expect(isLocalRequest(req("127.0.0.1", { "x-forwarded-for": "127.0.0.1" }), trust("1"))).toBe(true);
    expect(isLocalRequest(req("127.0.0.1", { "x-forwarded-for": "127.0.0.1, 203.0.113.7" }), trust("1"))).toBe(false);
    expect(isLocalRequest(req("127.0.0.1"), trust("1"))).toBe(false);
    expect(isLocalRequest(req("127.0.0.1", { "x-forwarded-for": "127.0.0.1, 203.0.113.7" }), trust("true"))).toBe(true);
    expect(isLocalRequest(req("::1", { "x-forwarded-for": "::1" }), trust("::1"))).toBe(true);
  });

  it("refuses a TRUST_PROXY that is not false, true, a hop count or addresses, naming the variable", () => {
    expect(() => loadConfig({ TRUST_PROXY: "nginx" }, null)).toThrow(/TRUST_PROXY must be false, true, a hop count, or a comma-separated list .*"nginx" is not an IP address/);
    expect(() => loadConfig({ TRUST_PROXY: "10.0.0.0/33" }, null)).toThrow(/TRUST_PROXY .*"10\.0\.0\.0\/33" is not an IP address/);
    expect(loadConfig({}, null).TRUST_PROXY).toBe(false);
  });
});
