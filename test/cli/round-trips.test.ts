import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { cliFor } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { wireCounter, type WireCounter } from "../helpers/pg-wire.js";

/**
 * Every CLI call is a new connection, and each wait for PostgreSQL's answer costs the most on a
 * loaded machine. Counted on the wire (a relay in front of the server): what `vmres status` and
 * `vmres list` send, and how often they wait. The login itself is three of the round trips (the
 * startup and SCRAM's two messages).
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
let wire: WireCounter;
let vmres: ReturnType<typeof cliFor>;

beforeAll(async () => {
  database = await freshDatabase();
  const core = coreFor(database);
  for (const name of ["vm-01", "vm-02"]) {
    const added = await addVm(core, { person: "operator", source: "cli" }, { name, ip: name === "vm-01" ? "198.51.100.1" : "198.51.100.2", pool: "default", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: ["gpu"] });
    expect(added.ok).toBe(true);
  }
  wire = await wireCounter(database.url);
  vmres = cliFor({ databaseUrl: wire.url });
});
afterAll(async () => {
  await wire.close();
  await database.close();
});

async function counted(args: string[]) {
  wire.reset();
  const run = await vmres(args);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return { run, counts: wire.counts() };
}

describe("a CLI call waits on PostgreSQL as few times as it can", () => {
  it("vmres status logs in once and waits at most 7 times, login included: the schema check and its reads go out together", async () => {
    const { run, counts } = await counted(["status"]);
    expect(run.stdout).toContain("default");
    expect(counts.connections).toBe(1);
    // Before: 12 (the array types read first, the schema check alone, each read after the one before, two round trips for each with parameters).
    expect(counts.roundTrips).toBeLessThanOrEqual(7);
    expect(counts.statements).toBeLessThanOrEqual(5);
  });

  it("vmres list logs in once and waits at most 6 times, and still shows each VM's tags", async () => {
    const { run, counts } = await counted(["list", "--json"]);
    const vms = JSON.parse(run.stdout) as { name: string; tags: string[] }[];
    expect(vms.map((v) => [v.name, v.tags])).toEqual([
      ["vm-01", ["gpu"]],
      ["vm-02", ["gpu"]],
    ]);
    expect(counts.connections).toBe(1);
    // Before: 9.
    expect(counts.roundTrips).toBeLessThanOrEqual(6);
  });

  it("vmres status on a database behind this vmres is refused with exit 5, even though its reads went out with the check", async () => {
    await database.sql`update drizzle.__drizzle_migrations set created_at = 0 where created_at = (select max(created_at) from drizzle.__drizzle_migrations)`;
    try {
      wire.reset();
      const run = await vmres(["status"]);
      expect(run.code).toBe(5);
      expect(run.stderr).toContain("behind");
    } finally {
      // Back as it was: the newest migration's time is the journal's last entry.
      const { shippedMigrations } = await import("../../src/db/schema-version.js");
      await database.sql`update drizzle.__drizzle_migrations set created_at = ${shippedMigrations().at(-1)!.when} where created_at = 0`;
    }
  });
});
