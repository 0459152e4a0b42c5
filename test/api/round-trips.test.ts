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
  await addPoolVms(core, "trips", 40);
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

  /** Checks in whatever the earlier tests left checked out. */
  const giveBack = async () => {
    const open = await api.app.inject({ method: "GET", url: "/v1/checkouts?open=true&user=me", headers: headers() });
    for (const c of open.json() as { id: number }[]) await checkIn(c.id);
  };
  /** The fewest round trips and the statements of a few requests (a statement's first run on a connection may cost one more trip). */
  const steady = async (request: () => Promise<void>) => {
    await giveBack();
    const counted: { trips: number; sent: string[] }[] = [];
    for (let i = 0; i < 4; i++) {
      sent = [];
      trips = 0;
      await request();
      counted.push({ trips, sent: [...sent] });
    }
    return counted.reduce((a, b) => (b.trips < a.trips ? b : a));
  };
  const keyed = (k: string) => ({ ...headers(), "idempotency-key": `${k}-${Math.random()}` });
  const checkIn = async (id: number, h: Record<string, string> = { authorization: `Bearer ${token}` }) => {
    const back = await api.app.inject({ method: "DELETE", url: `/v1/checkouts/${id}`, headers: h });
    expect(back.statusCode, back.body).toBe(200);
    const counted = { trips, sent: [...sent] };
    // Back in the pool as a cleanup would put it, so the pool never runs dry.
    await client`update vms set state = 'available', cleanup_next_at = null where state = 'cleaning'`;
    trips = counted.trips;
    sent = counted.sent;
  };
  /** Statements between BEGIN and COMMIT, and those outside any transaction. */
  const inTransaction = (texts: string[]) => {
    let open = false;
    const inside: string[] = [];
    const outside: string[] = [];
    for (const t of texts) {
      if (/^\s*begin\s*$/i.test(t)) open = true;
      else if (/^\s*commit\s*$/i.test(t)) open = false;
      else (open ? inside : outside).push(t);
    }
    return { inside, outside };
  };

  /** A checkout, counted alone: the check-in that gives its VM back is not. */
  const checkoutCounted = async (h: Record<string, string>) => {
    const out = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: h, payload: { pool: "trips" } });
    expect(out.statusCode, out.body).toBe(201);
    const counted = { trips, sent: [...sent] };
    await checkIn((out.json() as { id: number }).id);
    trips = counted.trips;
    sent = counted.sent;
  };

  it("a checkout waits on two round trips: the token's count, then its one transaction with the pool's cleanup warning", async () => {
    const counted = await steady(() => checkoutCounted(headers()));
    expect(counted.trips, counted.sent.join("\n---\n")).toBe(2);
    expect(inTransaction(counted.sent).inside.some((t) => /cleanup_blocked/.test(t)), counted.sent.join("\n---\n")).toBe(true);
  });

  it("a checkout with an Idempotency-Key claims the key and keeps its answer inside the checkout's transaction, in three round trips", async () => {
    const counted = await steady(() => checkoutCounted(keyed("out")));
    const { inside, outside } = inTransaction(counted.sent);
    // The token's count; BEGIN, the claim, the lock, the pick, the cleanup warning; the answer and COMMIT.
    expect(counted.trips, counted.sent.join("\n---\n")).toBe(3);
    expect(outside.filter((t) => /idempotency_keys/.test(t)), counted.sent.join("\n---\n")).toEqual([]);
    expect(inside.filter((t) => /idempotency_keys/.test(t)), counted.sent.join("\n---\n")).toHaveLength(2);
  });

  it("a check-in with an Idempotency-Key costs no round trip more than one without: its claim and answer ride in its transaction", async () => {
    const plain = await steady(async () => {
      const out = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: headers(), payload: { pool: "trips" } });
      const id = (out.json() as { id: number }).id;
      sent = [];
      trips = 0;
      await checkIn(id);
    });
    const withKey = await steady(async () => {
      const out = await api.app.inject({ method: "POST", url: "/v1/checkouts", headers: headers(), payload: { pool: "trips" } });
      const id = (out.json() as { id: number }).id;
      sent = [];
      trips = 0;
      await checkIn(id, { authorization: `Bearer ${token}`, "idempotency-key": `in-${Math.random()}` });
    });
    expect(plain.trips, plain.sent.join("\n---\n")).toBe(3);
    expect(withKey.trips, withKey.sent.join("\n---\n")).toBe(3);
    const { outside } = inTransaction(withKey.sent);
    expect(outside.filter((t) => /idempotency_keys/.test(t)), withKey.sent.join("\n---\n")).toEqual([]);
  });
});

