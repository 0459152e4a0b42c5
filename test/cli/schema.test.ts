import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { cliFor } from "../helpers/cli.js";
import { testLog, urlFor } from "../helpers/db.js";
import { connect } from "../../src/db/client.js";

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));
const JOURNAL = JSON.parse(readFileSync(join(MIGRATIONS, "meta/_journal.json"), "utf8")) as { entries: { when: number }[] };
const SHIPPED = JOURNAL.entries.length;

const opened: postgres.Sql[] = [];

/** The CLI on that database; patient, as busy.test.ts's 60 processes may share the machine with these. */
const vmresFor = (databaseUrl: string) => cliFor({ databaseUrl, timeoutMs: 300_000 });
afterAll(async () => Promise.all(opened.map((sql) => sql.end())));

/** A new, empty database (no tables at all), and a connection to it. */
async function emptyDatabase(): Promise<{ url: string; sql: postgres.Sql }> {
  const name = `test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const sql = connect(urlFor(name), { lockTimeoutMs: 5000, poolSize: 2, log: testLog });
  opened.push(sql);
  return { url: urlFor(name), sql };
}

/** A database migrated by an older vmres: every shipped migration but the last, and one VM in it. */
async function databaseBehind(): Promise<{ url: string; sql: postgres.Sql }> {
  const database = await emptyDatabase();
  const older = mkdtempSync(join(tmpdir(), "vmres-older-migrations-"));
  try {
    cpSync(MIGRATIONS, older, { recursive: true });
    writeFileSync(join(older, "meta/_journal.json"), JSON.stringify({ ...JOURNAL, entries: JOURNAL.entries.slice(0, -1) }));
    await migrate(drizzle(database.sql), { migrationsFolder: older });
  } finally {
    rmSync(older, { recursive: true, force: true });
  }
  await database.sql`insert into pools (name, quota) values ('default', 1)`;
  await database.sql`insert into vms (name, ip, pool, ssh_user, ssh_port) values ('vm-01', '198.51.100.1', 'default', 'root', 22)`;
  return database;
}

/** Everything a command could have changed: VMs, events, and the migrations on record. */
async function everything(sql: postgres.Sql): Promise<string> {
  const vms = await sql`select * from vms order by id`;
  const events = await sql`select * from events order by id`;
  const migrations = await sql`select * from drizzle.__drizzle_migrations order by id`;
  return JSON.stringify({ vms, events, migrations });
}

describe("a database behind the migrations this vmres ships", () => {
  it("is refused before anything runs: exit 5, says to run vmres db migrate, and changes nothing", { timeout: 400_000 }, async () => {
    const database = await databaseBehind();
    const vmres = vmresFor(database.url);
    const before = await everything(database.sql);

    const r = await vmres(["checkout", "--user", "UALICE01"]);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `vmres: the database is behind this vmres: ${SHIPPED - 1} of its ${SHIPPED} migrations are applied. ` +
        `Run \`${vmres.installation}/bin/vmres.js db migrate\` in the vmres folder (${vmres.installation}), or start the bot, which migrates at start; then try again. Nothing was changed.\n`,
    );
    expect(await everything(database.sql)).toBe(before);

    const json = await vmres(["status", "--json"]);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: "schema_behind", message: expect.stringContaining("/bin/vmres.js db migrate"), applied: SHIPPED - 1, shipped: SHIPPED },
    });
    expect(await everything(database.sql)).toBe(before);
  });

  it("db migrate applies what is missing, and commands run again", { timeout: 400_000 }, async () => {
    const database = await databaseBehind();
    const vmres = vmresFor(database.url);
    const migrated = await vmres(["db", "migrate"]);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout.trim()).toBe(`Applied 1 migration; the database is up to date (${SHIPPED} in all).`);
    const r = await vmres(["checkout", "--user", "UALICE01"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Checked out vm-01");
  });
});

describe("a new, empty database", { timeout: 400_000 }, () => {
  it("is refused with exit 5 and told to run vmres db migrate; no table is created behind the operator's back", async () => {
    const database = await emptyDatabase();
    const vmres = vmresFor(database.url);
    const r = await vmres(["list", "--json"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^vmres: the database has no vmres tables yet\. Run `\S+\/bin\/vmres\.js db migrate` in the vmres folder/);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "schema_missing", applied: 0, shipped: SHIPPED } });
    const [tables] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`;
    expect(tables).toEqual({ n: 0 });
  });
});

describe("a database migrated by a newer vmres", () => {
  it("is refused with exit 5 and told to update this vmres, changing nothing", { timeout: 400_000 }, async () => {
    const database = await databaseBehind();
    await vmresFor(database.url)(["db", "migrate"]);
    const last = JOURNAL.entries.at(-1)!.when;
    await database.sql`insert into drizzle.__drizzle_migrations (hash, created_at) values ('from-a-newer-vmres', ${last + 1000})`;
    const before = await everything(database.sql);
    const r = await vmresFor(database.url)(["checkout", "--user", "UALICE01", "--json"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^vmres: the database was migrated by a newer vmres \(1 migration this one does not know\)\. Update this vmres installation/);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "schema_newer" } });
    expect(await everything(database.sql)).toBe(before);
  });
});
