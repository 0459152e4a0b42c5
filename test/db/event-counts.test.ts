import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordEvent } from "../../src/core/events.js";
import type { Database } from "../../src/db/client.js";
import { readCounts } from "../../src/core/event-counts.js";
import { freshDatabase } from "../helpers/db.js";

let database: Database;
beforeAll(async () => {
  database = await freshDatabase();
  await database.sql`insert into pools (name) values ('linux')`;
  await database.sql`insert into vms (name, ip, pool) values ('linux-1', '198.51.100.31', 'linux')`;
});
afterAll(async () => database?.close());

const checkedOut = async (db: Database["db"]) =>
  (await readCounts(db)).filter((c) => c.kind === "checked_out").reduce((sum, c) => sum + c.n, 0);

describe("event counts kept by the database", () => {
  it("count every event exactly once while writers write and three replicas scrape and roll up at once", async () => {
    const [vm] = await database.db.execute<{ id: number }>(sql`select id from vms where name = 'linux-1'`);
    let writing = true;
    const writers = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 50; i++) {
        await database.db.$client.begin((tx) => recordEvent(tx, { vmId: vm!.id, vmName: "linux-1", actor: "operator", source: "cli", kind: "checked_out" }));
      }
    });
    // Each replica scrapes again and again: what it reads never goes down.
    const replicas = Array.from({ length: 3 }, async () => {
      let last = 0;
      while (writing) {
        const now = await checkedOut(database.db);
        expect(now).toBeGreaterThanOrEqual(last);
        last = now;
      }
    });
    await Promise.all(writers);
    writing = false;
    await Promise.all(replicas);

    expect(await checkedOut(database.db)).toBe(200);
    const [inLog] = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from events where kind = 'checked_out'`);
    expect(inLog?.n).toBe(200);
  });
});
