import { drizzle } from "drizzle-orm/postgres-js";
import type postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { readCounts } from "../../src/core/event-counts.js";
import { databaseOfRelease, migrationsBefore, type ReleaseDatabase } from "../helpers/release-database.js";

let before: ReleaseDatabase | undefined;
afterAll(async () => before?.close());

/** A database with every migration before event_counts, as the release before this one left it. */
async function databaseBeforeEventCounts(): Promise<postgres.Sql> {
  before = await databaseOfRelease(migrationsBefore("_event-counts"), "before-event-counts");
  return before.sql;
}

describe("upgrading to counted events", () => {
  it("counts the history already in the log, by kind, pool and source, and every event written after", async () => {
    const client = await databaseBeforeEventCounts();
    await client`insert into pools (name) values ('linux'), ('gpu')`;
    await client`insert into vms (name, ip, pool) values ('linux-1', '198.51.100.21', 'linux'), ('gpu-1', '198.51.100.22', 'gpu')`;
    const event = (vm: string, kind: string, source: string) =>
      client`insert into events (vm_id, vm_name, actor, source, kind) select id, name, 'operator', ${source}, ${kind} from vms where name = ${vm}`;
    for (let i = 0; i < 3; i++) await event("linux-1", "checked_out", "slack");
    await event("linux-1", "checked_out", "cli");
    await event("gpu-1", "lease_expired", "reconciler");

    const db = drizzle(client, { schema });
    await migrateDatabase({ db, sql: client });
    await event("gpu-1", "checked_out", "api");

    const counts = (await readCounts(db)).filter((c) => c.kind !== "added").sort((a, b) => `${a.kind}${a.pool}${a.source}`.localeCompare(`${b.kind}${b.pool}${b.source}`));
    expect(counts).toEqual([
      { kind: "checked_out", code: "", pool: "gpu", source: "api", n: 1 },
      { kind: "checked_out", code: "", pool: "linux", source: "cli", n: 1 },
      { kind: "checked_out", code: "", pool: "linux", source: "slack", n: 3 },
      { kind: "lease_expired", code: "", pool: "gpu", source: "reconciler", n: 1 },
    ]);
  });
});
