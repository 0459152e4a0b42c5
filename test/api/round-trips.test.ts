import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApi } from "../../src/api/server.js";
import type { Core } from "../../src/core/types.js";
import * as schema from "../../src/db/schema.js";
import { createLogger } from "../../src/log.js";
import { addPoolVms, coreFor, freshDatabase } from "../helpers/db.js";
import { personWithToken } from "./helpers.js";

/*
 * Round trips to PostgreSQL per API request, counted with postgres.js's debug
 * hook (every statement it sends, BEGIN and COMMIT included). Each one is a
 * network wait per request; the API's rate at c=8 follows their number.
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
let client: postgres.Sql;
let sent: string[] = [];
/**
 * Round trips: statements postgres.js writes in one go (a pipeline: sent in the same turn of the
 * event loop, before any answer can come back) are one wait for the network.
 */
let trips = 0;
let inTrip = false;
const sending = (text: string) => {
  sent.push(text);
  if (inTrip) return;
  inTrip = true;
  trips++;
  setImmediate(() => (inTrip = false));
};
let core: Core;
let api: Awaited<ReturnType<typeof buildApi>>;
let token: string;

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
  client = postgres(database.url, { max: 2, onnotice: () => {}, debug: (_c, text) => sending(text) });
  core = coreFor({ db: drizzle(client, { schema }) }, { defaultPool: "trips" });
  await addPoolVms(core, "trips", 12);
  ({ token } = await personWithToken(core, "tripper", { kind: "service" }));
  const rate = { max: 100_000, windowMs: 60_000 };
  api = await buildApi({ core, log: createLogger("warn", "test"), rateLimit: { token: rate, person: rate }, claimTimeoutMs: 60_000, bodyLimit: 65_536, version: "test" });
});
afterAll(async () => {
  await api.app.close();
  await client.end({ timeout: 5 });
  await database.close();
});

const headers = () => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });

describe("round trips per API request", () => {
  it("a check-in by checkout id sends at most five statements: the token, then one transaction", async () => {
    const out = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: headers(), payload: { pool: "trips" } });
    expect(out.statusCode).toBe(201);
    const id = (out.json() as { id: number }).id;
    sent = [];
    const back = await api.app.inject({ method: "DELETE", url: `/v1/checkouts/${id}`, headers: { authorization: `Bearer ${token}` } });
    expect(back.statusCode).toBe(200);
    expect((back.json() as { nextState: string }).nextState).toBe("cleaning");
    // Authentication with its count, BEGIN, the VM locked by its checkout id, the end of the checkout, COMMIT.
    expect(sent.length, sent.join("\n---\n")).toBeLessThanOrEqual(5);
  });

  it("a token used before is not read again: its request sends one short statement that checks and counts it", async () => {
    expect((await api.app.inject({ method: "GET", url: "/v1/pools", headers: headers() })).statusCode).toBe(200);
    sent = [];
    expect((await api.app.inject({ method: "GET", url: "/v1/pools", headers: headers() })).statusCode).toBe(200);
    const auth = sent.filter((s) => /api_tokens|api_token_epoch|api_request_counts/.test(s));
    expect(auth, sent.join("\n---\n")).toHaveLength(1);
    expect(auth[0]).not.toMatch(/token_hash|join people/);
  });

  it("a check-in by checkout id waits on three round trips: the token's count, BEGIN with the VM's lock, the end with COMMIT", async () => {
    // A statement's first run on a connection may first ask the server for its parameter types (one
    // more trip, once per connection): the fewest trips over a few check-ins is the steady count.
    const counted: number[] = [];
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const out = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: headers(), payload: { pool: "trips" } });
      expect(out.statusCode).toBe(201);
      const id = (out.json() as { id: number }).id;
      sent = [];
      trips = 0;
      const back = await api.app.inject({ method: "DELETE", url: `/v1/checkouts/${id}`, headers: { authorization: `Bearer ${token}` } });
      expect(back.statusCode).toBe(200);
      expect((back.json() as { nextState: string }).nextState).toBe("cleaning");
      counted.push(trips);
      seen.push(sent.join("\n---\n"));
    }
    expect(Math.min(...counted), seen.join("\n======\n")).toBe(3);
  });

  it("a check-in by an id that has ended still says how it ended, and changes nothing", async () => {
    const out = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: headers(), payload: { pool: "trips" } });
    const id = (out.json() as { id: number }).id;
    expect((await api.app.inject({ method: "DELETE", url: `/v1/checkouts/${id}`, headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    const again = await api.app.inject({ method: "DELETE", url: `/v1/checkouts/${id}`, headers: { authorization: `Bearer ${token}` } });
    expect(again.statusCode).toBe(410);
    expect((again.json() as { code: string }).code).toBe("checkout_ended");
    const none = await api.app.inject({ method: "DELETE", url: `/v1/checkouts/999999`, headers: { authorization: `Bearer ${token}` } });
    expect(none.statusCode).toBe(404);
  });

  it("a checkout sends no statement to find who the token's person is again", async () => {
    sent = [];
    const out = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: headers(), payload: { pool: "trips" } });
    expect(out.statusCode).toBe(201);
    expect(sent.filter((s) => /from people where id = \$1/i.test(s)), sent.join("\n---\n")).toEqual([]);
  });
});
