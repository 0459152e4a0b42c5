import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFUSAL_STATUS } from "../../src/api/problems.js";
import { createClient, idempotencyKey } from "../../src/client/index.js";
import { CLIENT_TYPES_FILE, clientTypes } from "../../scripts/client-types.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

/** Redocly's CLI, run by the Node that runs the tests (its `bin` needs Node 22). */
const REDOCLY_CLI = join(dirname(createRequire(import.meta.url).resolve("@redocly/cli/package.json")), "bin/cli.js");

let h: Harness;
beforeAll(async () => {
  h = await startApiHarness({ API_RATE_LIMIT: "5/min" });
  await addVms(h.core, "default", 2);
});
afterAll(async () => h?.stop());

describe("the OpenAPI document", () => {
  it("served at /openapi.json, validates against the OpenAPI 3.1 schema and lists every route, with interactive docs at /docs", async () => {
    const doc = await call(h, "GET", "/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(doc.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(Object.keys(doc.body.paths).sort()).toEqual(
      [
        "/v1/checkouts",
        "/v1/checkouts/{id}",
        "/v1/checkouts/{id}/extend",
        "/v1/images",
        "/v1/images/{name}",
        "/v1/instances",
        "/v1/me",
        "/v1/people",
        "/v1/people/{name}",
        "/v1/pools",
        "/v1/pools/{name}",
        "/v1/provider-jobs",
        "/v1/provider-jobs/{id}/abandon",
        "/v1/provider-jobs/{id}/retry",
        "/v1/queues",
        "/v1/queues/{id}/pass",
        "/v1/queues/{id}/take",
        "/v1/reservations",
        "/v1/reservations/{label}",
        "/v1/tokens",
        "/v1/tokens/{id}",
        "/v1/vms",
        "/v1/vms/{name}",
        "/v1/vms/{name}/cleanup",
        "/v1/vms/{name}/cleanup-done",
        "/v1/vms/{name}/events",
      ].sort(),
    );
    const docs = await fetch(`${h.url}/docs`, { redirect: "follow" });
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger-ui");
  });

  it("documents the refusal→status table once, in the Problem schema", async () => {
    const doc = await call(h, "GET", "/openapi.json");
    const problem = doc.body.components.schemas.Problem;
    for (const [code, { status }] of Object.entries(REFUSAL_STATUS)) expect(problem.description).toContain(`${code} → ${status}`);
    // The codes' list (the enum) is written once in the whole document, not per response.
    const text = JSON.stringify(doc.body);
    for (const code of Object.keys(REFUSAL_STATUS)) expect(text.split(`"${code}"`).length - 1, code).toBe(1);
  });

  it("passes Redocly's recommended rules with no error and no warning, without touching the network", async () => {
    const res = await fetch(`${h.url}/openapi.json`);
    const dir = mkdtempSync(join(tmpdir(), "vmres-openapi-"));
    try {
      writeFileSync(join(dir, "openapi.json"), await res.text());
      // Its own folder as cwd: no redocly.yaml of ours or anyone's is picked up; the rules are named here.
      // REDOCLY_TELEMETRY=off: no usage report is sent (and no update check), so it runs offline.
      const lint = spawnSync(process.execPath, [REDOCLY_CLI, "lint", "--extends", "recommended", "--format", "json", "openapi.json"], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
      });
      const report = JSON.parse(lint.stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
      expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
      expect(lint.status, lint.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is under 100 KB as served", async () => {
    const res = await fetch(`${h.url}/openapi.json`);
    const bytes = (await res.arrayBuffer()).byteLength;
    expect(bytes).toBeLessThan(100 * 1024);
  });

  it("shares its schemas under components: every problem is the one Problem, resources by $ref", async () => {
    const doc = (await call(h, "GET", "/openapi.json")).body;
    const schemas = doc.components.schemas as Record<string, unknown>;
    for (const id of ["Problem", "Vm", "Pool", "Checkout", "CheckedOut", "Person", "Reservation", "Token", "Time"]) expect(Object.keys(schemas)).toContain(id);
    expect(doc.paths["/v1/vms/{name}"].get.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Vm" });
    expect(doc.paths["/v1/pools"].get.responses["200"].content["application/json"].schema).toEqual({ type: "array", items: { $ref: "#/components/schemas/Pool" } });
    // Every component is used: none is written for nothing.
    const text = JSON.stringify(doc.paths) + JSON.stringify(schemas);
    for (const id of Object.keys(schemas)) expect(text, id).toContain(`"#/components/schemas/${id}"`);
  });

  it("declares every error as application/problem+json, as it is sent", async () => {
    const doc = (await call(h, "GET", "/openapi.json")).body;
    let errors = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          errors++;
          expect(response.content, `${method} ${path} ${status}`).toEqual({ "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } });
        }
      }
    }
    expect(errors).toBeGreaterThan(100);
    const refused = await fetch(`${h.url}/v1/pools`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("describes every response in words (no \"Default Response\")", async () => {
    const doc = (await call(h, "GET", "/openapi.json")).body;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, { description?: string }> }>>)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          expect(response.description, `${method} ${path} ${status}`).toMatch(/\w/);
          expect(response.description, `${method} ${path} ${status}`).not.toBe("Default Response");
        }
      }
    }
  });

  it("names its server and its licence (MIT)", async () => {
    const doc = (await call(h, "GET", "/openapi.json")).body;
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
    expect(doc.info.license).toEqual({ name: "MIT", identifier: "MIT" });
  });

  it("/docs explores /openapi.json, not a copy at /docs/json", async () => {
    const init = await fetch(`${h.url}/docs/static/swagger-initializer.js`);
    expect(init.status).toBe(200);
    // swagger-ui's `urls` take precedence over the plugin's own `url` (./json).
    expect(await init.text()).toContain('"urls":[{"url":"/openapi.json"');
  });

  it("and docs/api.md list every refusal with its status", () => {
    const doc = readFileSync("docs/api.md", "utf8");
    for (const [code, { status }] of Object.entries(REFUSAL_STATUS)) expect(doc, code).toContain(`| \`${code}\` | ${status} |`);
  });

  it("is what the committed client types were generated from (npm run client:generate)", async () => {
    expect(readFileSync(CLIENT_TYPES_FILE, "utf8"), "src/client/schema.ts is stale: run npm run client:generate").toBe(await clientTypes());
  });
});

describe("the typed client (vmres/client)", () => {
  it("is exported by the package as vmres/client, built into dist", async () => {
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", "const m = await import('vmres/client'); console.log(typeof m.createClient)"], { encoding: "utf8" });
    expect(out.trim()).toBe("function");
  });

  it("checks out, reads and checks in over HTTP with the token, refusals as problems", async () => {
    const ci = await personWithToken(h.core, "ci-job", { kind: "service" });
    const client = createClient({ baseUrl: h.url + "/", token: ci.token });
    const out = await client.POST("/v1/checkouts", { body: { note: "ci" }, headers: { "idempotency-key": idempotencyKey() } });
    expect(out.response.status).toBe(201);
    if (!out.data || !("id" in out.data)) throw new Error(JSON.stringify(out.error ?? out.data));
    const vm: string = out.data.vm;
    const again = await client.POST("/v1/checkouts", { body: {} });
    expect(again.error).toMatchObject({ code: "quota_reached" });
    const me = await client.GET("/v1/me");
    expect(me.data?.holds.map((v) => v.name)).toEqual([vm]);
    const back = await client.DELETE("/v1/checkouts/{id}", { params: { path: { id: out.data.id } } });
    expect(back.data).toMatchObject({ vm, forced: false });
  });
});

describe("the rate limit (API_RATE_LIMIT)", () => {
  it("answers the request past the limit with 429, Retry-After and a problem, per token, changing nothing", async () => {
    const eve = await personWithToken(h.core, "eve");
    const frank = await personWithToken(h.core, "frank");
    for (let i = 0; i < 5; i++) expect((await call(h, "GET", "/v1/pools", { token: eve.token })).status).toBe(200);
    const [before] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from checkouts`);
    const limited = await call(h, "POST", "/v1/checkouts", { token: eve.token, body: {} });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ code: "rate_limited", status: 429 });
    const [after] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from checkouts`);
    expect(after?.n).toBe(before?.n);
    expect((await call(h, "GET", "/v1/pools", { token: frank.token })).status).toBe(200);
  });
});
