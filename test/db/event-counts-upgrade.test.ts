import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { connect, migrateDatabase } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { readCounts } from "../../src/core/event-counts.js";
import { testLog, urlFor } from "../helpers/db.js";

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "vmres-before-event-counts-"));
let client: postgres.Sql | undefined;
afterAll(async () => {
  await client?.end({ timeout: 5 });
  rmSync(folder, { recursive: true, force: true });
});

/** A database with every migration before event_counts, as the release before this one left it. */
async function databaseBeforeEventCounts(): Promise<postgres.Sql> {
  cpSync(MIGRATIONS, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: { tag: string }[] };
  journal.entries = journal.entries.slice(0, journal.entries.findIndex((e) => e.tag.endsWith("_event-counts")));
  writeFileSync(journalPath, JSON.stringify(journal));
  const name = `before_counts_${process.pid}_${Date.now()}`;
  const admin = postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const sql = connect(urlFor(name), { lockTimeoutMs: 5000, poolSize: 4, log: testLog });
  await migrate(drizzle(sql, { schema }), { migrationsFolder: folder });
  return sql;
}

describe("upgrading to counted events", () => {
  it("counts the history already in the log, by kind, pool and source, and every event written after", async () => {
    client = await databaseBeforeEventCounts();
    await client`insert into pools (name) values ('linux'), ('gpu')`;
    await client`insert into vms (name, ip, pool) values ('linux-1', '198.51.100.21', 'linux'), ('gpu-1', '198.51.100.22', 'gpu')`;
    const event = (vm: string, kind: string, source: string) =>
      client!`insert into events (vm_id, vm_name, actor, source, kind) select id, name, 'operator', ${source}, ${kind} from vms where name = ${vm}`;
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
