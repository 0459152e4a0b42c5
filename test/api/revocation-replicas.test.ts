import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildApi } from "../../src/api/server.js";
import { revokeToken } from "../../src/core/tokens.js";
import type { Core } from "../../src/core/types.js";
import * as schema from "../../src/db/schema.js";
import { createLogger } from "../../src/log.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { personWithToken } from "./helpers.js";

/*
 * Two API instances, each with its own connections, on one database: two replicas. Whatever a
 * replica keeps of a token between requests, a revocation made anywhere is refused on the
 * very next request on every replica.
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
const clients: postgres.Sql[] = [];
const replicas: Awaited<ReturnType<typeof buildApi>>[] = [];
let core: Core;

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
  const rate = { max: 100_000, windowMs: 60_000 };
  for (let i = 0; i < 2; i++) {
    const client = postgres(database.url, { max: 2, onnotice: () => {} });
    clients.push(client);
    const replicaCore = coreFor({ db: drizzle(client, { schema }) });
    replicas.push(await buildApi({ core: replicaCore, log: createLogger("warn", "test"), rateLimit: { token: rate, person: rate }, claimTimeoutMs: 60_000, bodyLimit: 65_536, version: "test" }));
  }
  core = coreFor(database);
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
