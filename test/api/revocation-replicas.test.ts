import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildApi } from "../../src/api/server.js";
import { createToken, revokeToken } from "../../src/core/tokens.js";
import type { Core } from "../../src/core/types.js";
import * as schema from "../../src/db/schema.js";
import { createLogger } from "../../src/log.js";
import { coreFor, freshDatabase, TestClock } from "../helpers/db.js";
import { personWithToken } from "./helpers.js";

/*
 * Two API instances, each with its own connections, on one database: two replicas. Whatever a
 * replica keeps of a token between requests (each keeps accepted tokens in its token cache), a
 * revocation, an expiry or a change of person made anywhere applies on the very next request on
 * every replica, whether its NOTIFY has arrived yet or not, and even when the connection that
 * listens for it was lost.
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
const clients: postgres.Sql[] = [];
const replicas: Awaited<ReturnType<typeof buildApi>>[] = [];
let core: Core;
/** The replicas' clock: an expiry is judged by it (as by the database's own in service). */
const clock = new TestClock();

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
  const rate = { max: 100_000, windowMs: 60_000 };
  for (let i = 0; i < 2; i++) {
    const client = postgres(database.url, { max: 2, onnotice: () => {} });
    clients.push(client);
    const replicaCore = coreFor({ db: drizzle(client, { schema }) }, { clock: clock.now });
    replicas.push(await buildApi({ core: replicaCore, log: createLogger("warn", "test"), rateLimit: { token: rate, person: rate }, claimTimeoutMs: 60_000, bodyLimit: 65_536, version: "test" }));
  }
  core = coreFor(database, { clock: clock.now });
});
afterAll(async () => {
  for (const r of replicas) await r.app.close();
  for (const c of clients) await c.end({ timeout: 5 });
  await database.close();
});

it("a token revoked through one replica is refused by the other at its next request", async () => {
  const { token, id } = await personWithToken(core, "revoked-elsewhere");
  const me = (r: (typeof replicas)[number]) => r.app.inject({ method: "GET", url: "/v1/me", headers: { authorization: `Bearer ${token}` } });
  // Both replicas have just accepted the token (anything they keep of it is warm).
  for (const r of replicas) expect((await me(r)).statusCode).toBe(200);
  for (const r of replicas) expect((await me(r)).statusCode).toBe(200);
  const revoked = await revokeToken(core, { person: "operator", source: "cli" }, id);
  expect(revoked.ok).toBe(true);
  for (const r of replicas) {
    const answer = await me(r);
    expect(answer.statusCode).toBe(401);
    expect((answer.json() as { reason: string }).reason).toBe("revoked");
  }
});

const me = (r: (typeof replicas)[number], token: string) => r.app.inject({ method: "GET", url: "/v1/me", headers: { authorization: `Bearer ${token}` } });

it("a token that expires is refused by every replica from then on, though each had it cached", async () => {
  await personWithToken(core, "expiring");
  const made = await createToken(core, { person: "operator", source: "cli" }, { user: "expiring", expiresMs: 60_000 });
  if (!made.ok) throw new Error(JSON.stringify(made.refusal));
  for (const r of replicas) expect((await me(r, made.value.token)).statusCode).toBe(200);
  clock.advance(61_000);
  for (const r of replicas) {
    const answer = await me(r, made.value.token);
    expect(answer.statusCode).toBe(401);
    expect((answer.json() as { reason: string }).reason).toBe("expired");
  }
});

it("a person made non-admin through one replica is no admin on the other at its next request", async () => {
  const { token } = await personWithToken(core, "demoted", { admin: true });
  const people = (r: (typeof replicas)[number]) => r.app.inject({ method: "GET", url: "/v1/people", headers: { authorization: `Bearer ${token}` } });
  for (const r of replicas) expect((await people(r)).statusCode).toBe(200);
  for (const r of replicas) expect((await me(r, token)).json()).toMatchObject({ admin: true });
  const changed = await replicas[0]!.app.inject({ method: "PATCH", url: "/v1/people/demoted", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, payload: { admin: false } });
  expect(changed.statusCode, changed.body).toBe(200);
  const other = replicas[1]!;
  expect((await people(other)).statusCode).toBe(403);
  expect((await me(other, token)).json()).toMatchObject({ admin: false, person: { name: "demoted" } });
});

it("a person renamed is named anew by every replica at its next request", async () => {
  const { token, personId } = await personWithToken(core, "old-name");
  for (const r of replicas) expect((await me(r, token)).json()).toMatchObject({ person: { name: "old-name" } });
  await clients[0]!`update people set name = 'new-name' where id = ${personId}`;
  for (const r of replicas) expect((await me(r, token)).json()).toMatchObject({ person: { name: "new-name" } });
});

it("a replica whose listening connection was lost still refuses a token revoked meanwhile, and serves it from no cache after", async () => {
  const { token, id } = await personWithToken(core, "revoked-while-deaf");
  for (const r of replicas) expect((await me(r, token)).statusCode).toBe(200);
  // Every LISTEN connection of the replicas goes (as when PostgreSQL restarts or the network drops it).
  const admin = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    const killed = await admin<{ pid: number }[]>`
      select pg_terminate_backend(pid), pid from pg_stat_activity where query ilike 'listen%' and pid <> pg_backend_pid()`;
    expect(killed.length).toBeGreaterThan(0);
    // Revoked while nobody listens: the NOTIFY reaches no replica.
    expect((await revokeToken(core, { person: "operator", source: "cli" }, id)).ok).toBe(true);
    for (const r of replicas) {
      const answer = await me(r, token);
      expect(answer.statusCode).toBe(401);
      expect((answer.json() as { reason: string }).reason).toBe("revoked");
    }
    // Once listening again, every replica still refuses it.
    await expect.poll(async () => (await admin`select count(*)::int as n from pg_stat_activity where query ilike 'listen%'`)[0]!.n).toBeGreaterThanOrEqual(2);
    for (const r of replicas) expect((await me(r, token)).statusCode).toBe(401);
  } finally {
    await admin.end({ timeout: 5 });
  }
});
