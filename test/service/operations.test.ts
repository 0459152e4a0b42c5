import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkout } from "../../src/core/checkout.js";
import { loadConfig } from "../../src/config.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { freshDatabase, testLog } from "../helpers/db.js";
import { killService, startServiceProcess } from "../helpers/service-process.js";

describe("/metrics and /readyz", () => {
  let running: RunningService;
  let base: string;

  beforeAll(async () => {
    const database = await freshDatabase();
    await database.close();
    const config = loadConfig(
      { DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1", VMS_FILE: "/nonexistent/vms.yml", LOG_LEVEL: "silent", METRICS_TOKEN: "scrape-secret" },
      null,
    );
    running = await startService(config, testLog);
    base = `http://127.0.0.1:${running.port}`;
    const { core } = running.context;
    await core.db.$client`insert into pools (name, quota) values ('metrics', 1)`;
    await core.db.$client`insert into vms (name, ip, pool, ssh_user, ssh_port) values ('metrics-1', '198.51.100.61', 'metrics', 'vmres', 22)`;
    await checkout(core, { person: { slackUserId: "U0METRIC1" }, source: "cli" }, { pool: "metrics" });
    await checkout(core, { person: { slackUserId: "U0METRIC2" }, source: "cli" }, { pool: "metrics" });
  });
  afterAll(async () => running?.stop());

  it("counts checkouts by pool and outcome, and VMs by pool and state, in Prometheus format", async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain('vmres_checkouts_total{pool="metrics",outcome="ok"} 1');
    expect(text).toContain('vmres_checkouts_total{pool="metrics",outcome="no_vm_free"} 1');
    expect(text).toContain('vmres_vms{pool="metrics",state="checked_out"} 1');
    expect(text).toMatch(/vmres_checkout_duration_seconds_count\{outcome="ok"\} 1/);
    expect(text).toMatch(/^vmres_outbox_backlog \d+$/m);
    expect(text).toMatch(/^vmres_outbox_oldest_age_seconds [\d.e+-]+$/m);
    // The reconciler runs once at start.
    expect(text).toMatch(/vmres_reconciler_runs_total\{outcome="ran"\} [1-9]/);
  });

  it("labels checkouts asking for a pool vmres does not know as one (unknown) pool, never with what was typed", async () => {
    const { core } = running.context;
    const actor = { person: { slackUserId: "U0METRIC3" }, source: "cli" } as const;
    expect(await checkout(core, actor, { pool: "nope" })).toMatchObject({ ok: false, refusal: { code: "unknown_pool" } });
    expect(await checkout(core, actor, { pool: "Not A Pool!" })).toMatchObject({ ok: false, refusal: { code: "invalid_input" } });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('vmres_checkouts_total{pool="(unknown)",outcome="unknown_pool"} 1');
    expect(text).toContain('vmres_checkouts_total{pool="(unknown)",outcome="invalid_input"} 1');
    expect(text).not.toContain("nope");
    expect(text).not.toContain("Not A Pool");
  });

  it("serves metrics to a relayed request only with the bearer token", async () => {
    const relayed = { "x-forwarded-for": "203.0.113.9" };
    expect((await fetch(`${base}/metrics`, { headers: relayed })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { ...relayed, authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { ...relayed, authorization: "Bearer scrape-secret" } })).status).toBe(200);
  });

  it("answers /readyz 200 once started", async () => {
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });
});

describe("a second vmres on a busy port", () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
    port = (blocker.address() as { port: number }).port;
  });
  afterAll(async () => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it("stops before touching the database, saying the port is in use and what to set", async () => {
    const database = await freshDatabase();
    await database.close();
    let service;
    try {
      service = startServiceProcess({ DATABASE_URL: database.url, PORT: String(port), HOST: "127.0.0.1", VMS_FILE: "/nonexistent/vms.yml" });
      const error = await service.then(
        () => null,
        (err: unknown) => String(err),
      );
      expect(error).toContain(`port ${port} is in use on 127.0.0.1; set PORT`);
      expect(error).not.toMatch(/\n\s+at /);
      expect(error).not.toContain("inventory synced");
      expect(error).not.toContain("cleanup worker started");
    } finally {
      await killService(await service?.catch(() => undefined));
    }
  });
});
