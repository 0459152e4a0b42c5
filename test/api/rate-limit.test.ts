import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { testEnv } from "../slack/harness.js";
import { addVms, call, personWithToken, snapshot, startApiHarness, type Harness } from "./helpers.js";

// Hourly windows: a test of a few seconds stays inside one window (the counts are aligned on the hour).
const LIMITS = { API_RATE_LIMIT: "4/h", API_PERSON_RATE_LIMIT: "6/h" };

let h: Harness;
let second: RunningService;
let other: Harness;
beforeAll(async () => {
  h = await startApiHarness(LIMITS);
  await addVms(h.core, "default", 2);
  const config = loadConfig({ ...testEnv(h.fake, h.database.url), ...LIMITS }, null);
  second = await startService(config, createLogger("silent", "replica-2"));
  other = { ...h, url: `http://127.0.0.1:${second.port}` };
});
afterAll(async () => {
  await second?.stop();
  await h?.stop();
});

const get = (replica: Harness, token: string) => call(replica, "GET", "/v1/pools", { token });

describe("the rate limit, counted in PostgreSQL", () => {
  it("counts a person's tokens together (API_PERSON_RATE_LIMIT), so more tokens do not raise it", async () => {
    const ann = await personWithToken(h.core, "ann");
    const { createToken } = await import("../../src/core/tokens.js");
    const more = await createToken(h.core, { person: "operator", source: "cli" }, { user: "ann" });
    if (!more.ok) throw new Error(JSON.stringify(more.refusal));
    for (let i = 0; i < 4; i++) expect((await get(h, ann.token)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get(h, more.value.token)).status).toBe(200);
    const limited = await get(h, more.value.token);
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: "rate_limited", scope: "person", limit: 6 });
    expect(limited.body.detail).toContain("API_PERSON_RATE_LIMIT");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Someone else is not held back.
    const bob = await personWithToken(h.core, "bob");
    expect((await get(h, bob.token)).status).toBe(200);
  });

  it("holds across replicas: requests spread over two count once", async () => {
    const cyd = await personWithToken(h.core, "cyd");
    for (const replica of [h, other, h, other]) expect((await get(replica, cyd.token)).status).toBe(200);
    for (const replica of [h, other]) {
      const limited = await get(replica, cyd.token);
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ code: "rate_limited", scope: "token", limit: 4 });
      expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    }
  });
});

describe("a request refused by the rate limit (429)", () => {
  it("is not kept as its Idempotency-Key's answer: it changes nothing, and the same key runs once the window has passed", async () => {
    const dee = await personWithToken(h.core, "dee");
    for (let i = 0; i < 4; i++) expect((await get(h, dee.token)).status).toBe(200);
    const before = await snapshot(h.core);
    const headers = { "idempotency-key": "after-429" };
    const limited = await call(h, "POST", "/v1/checkouts", { token: dee.token, body: {}, headers });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await snapshot(h.core)).toBe(before);
    const [kept] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from idempotency_keys where key = 'after-429'`);
    expect(kept?.n).toBe(0);
    // The window passes (its counts are what a new window starts without).
    await h.core.db.execute(sql`delete from api_request_counts`);
    const retry = await call(h, "POST", "/v1/checkouts", { token: dee.token, body: {}, headers });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });
});
