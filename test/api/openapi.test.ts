import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFUSAL_STATUS } from "../../src/api/problems.js";
import { createClient, idempotencyKey } from "../../src/client/index.js";
import { CLIENT_TYPES_FILE, clientTypes } from "../../scripts/client-types.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

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
        "/v1/me",
        "/v1/people",
        "/v1/pools",
        "/v1/pools/{name}",
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
        "/v1/vms/{name}/events",
      ].sort(),
    );
    const docs = await fetch(`${h.url}/docs`, { redirect: "follow" });
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger-ui");
  });

  it("documents the refusal→status table in the problem schema", async () => {
    const doc = await call(h, "GET", "/openapi.json");
    const problem = doc.body.paths["/v1/checkouts"].post.responses["409"].content["application/json"].schema;
    for (const [code, { status }] of Object.entries(REFUSAL_STATUS)) expect(problem.description).toContain(`${code} → ${status}`);
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
