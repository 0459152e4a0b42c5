/**
 * A connection that dies under a reserved connection or a transaction. With
 * postgres.js 3.4.9 as published, the next statement on it (a ROLLBACK after
 * the failure, typically) was written from a setImmediate on a null socket:
 * an uncaught TypeError that killed the whole process (porsager/postgres#1208;
 * seen in CI as a replica exiting while PostgreSQL restarted). The dependency
 * is patched (patches/postgres+3.4.9.patch): the statement fails instead, and
 * the pool reconnects.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkout } from "../../src/core/checkout.js";
import { isConnectionLost } from "../../src/db/errors.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let killer: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
  killer = await freshDatabase({ poolSize: 2 });
});
afterAll(async () => {
  await database.close();
  await killer.close();
});

const terminate = async (pid: number) => {
  await killer.sql`select pg_terminate_backend(${pid})`;
  // Let the close reach postgres.js.
  await sleep(300);
};

describe("a connection lost under a reserved connection or a transaction", () => {
  it("fails the next statement on a reserved connection instead of killing the process, and the pool goes on", async () => {
    const conn = await database.sql.reserve();
    const [row] = await conn<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await terminate(row!.pid);
    const err = await conn`select 1`.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "CONNECTION_CLOSED" });
    expect(isConnectionLost(err)).toBe(true);
    // Not released: postgres.js already counts it closed and reconnects it on demand.
    for (let i = 0; i < 4; i++) expect(await database.sql`select 1 as one`).toEqual([{ one: 1 }]);
  });

  it("fails a transaction whose connection dies mid-way, ROLLBACK included, and the pool goes on", async () => {
    const failed = await database.sql
      .begin(async (tx) => {
        const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        await terminate(row!.pid);
        await tx`select 1`;
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(isConnectionLost(failed)).toBe(true);
    for (let i = 0; i < 4; i++) expect(await database.sql`select 1 as one`).toEqual([{ one: 1 }]);
  });

  it("answers a checkout whose connection was lost as retryable, and the next checkout works", async () => {
    const core = coreFor(database);
    await database.sql`insert into pools (name, quota) values ('lost', 5)`;
    await database.sql`insert into vms (name, ip, pool) values ('lost-1', '198.51.100.81', 'lost'), ('lost-2', '198.51.100.82', 'lost')`;
    // Every backend of the pool is killed while the checkout's statements are on their way.
    const pids = (await database.sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`).map((r) => r.pid);
    const attempt = checkout(core, { person: { slackUserId: "U0LOST001" }, source: "cli" }, { pool: "lost" }).catch((e: unknown) => e);
    await Promise.all(pids.map((pid) => killer.sql`select pg_terminate_backend(${pid})`));
    const outcome = await attempt;
    // Either it went through before the kill, or it failed as a lost connection: never a crash.
    if (!(outcome && typeof outcome === "object" && "ok" in outcome)) expect(isConnectionLost(outcome)).toBe(true);
    await sleep(300);
    expect(await checkout(core, { person: { slackUserId: "U0LOST002" }, source: "cli" }, { pool: "lost" })).toMatchObject({ ok: true });
  });
});
