import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connect, migrateDatabase } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { testLog, urlFor } from "../helpers/db.js";

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));
/** The migrations the previous release (before this one's 0003 and 0004) shipped. */
const PREVIOUS_RELEASE = 3;

const folder = mkdtempSync(join(tmpdir(), "vmres-previous-release-"));
const name = `upgrade_${process.pid}_${Date.now()}`;
let client: postgres.Sql;

beforeAll(async () => {
  // The previous release's migrations folder: the same files, its journal cut where that release ended.
  cpSync(MIGRATIONS, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: unknown[] };
  journal.entries = journal.entries.slice(0, PREVIOUS_RELEASE);
  writeFileSync(journalPath, JSON.stringify(journal));

  const admin = postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  client = connect(urlFor(name), { lockTimeoutMs: 5000, poolSize: 4, log: testLog });
  await migrate(drizzle(client, { schema }), { migrationsFolder: folder });

  // What a team running the previous release has: VMs in every state, a holder, a queued notice, history.
  await client`insert into pools (name, quota) values ('default', 1)`;
  await client`insert into vms (name, ip, pool, ssh_user, ssh_port) values
    ('vm-free', '198.51.100.11', 'default', 'root', 22), ('vm-held', '198.51.100.12', 'default', 'root', 22),
    ('vm-dirty', '198.51.100.13', 'default', 'root', 22), ('vm-bad', '198.51.100.14', 'default', 'root', 22)`;
  await client`update vms set state = 'checked_out', holder = 'U0HOLDER1', checked_out_at = now() where name = 'vm-held'`;
  await client`update vms set state = 'cleaning', cleanup_next_at = now() + interval '1 hour' where name = 'vm-dirty'`;
  await client`update vms set state = 'quarantined', cleanup_last_error = 'host key changed' where name = 'vm-bad'`;
  await client`insert into events (vm_id, vm_name, actor, source, kind, detail)
    select id, name, 'U0HOLDER1', 'slack', 'checked_out', '{}'::jsonb from vms where name = 'vm-held'`;
  await client`insert into outbox (kind, payload) values ('vm_quarantined', ${JSON.stringify({ vm: "vm-bad", pool: "default", reason: "host key changed", lastError: null, attempts: 1 })}::jsonb)`;
});

afterAll(async () => {
  await client?.end({ timeout: 5 });
  rmSync(folder, { recursive: true, force: true });
});

describe("upgrading a database made by the previous release", () => {
  it("keeps every VM, holder, event and waiting notice, and adds what this release needs", async () => {
    const before = await client`select name, state, holder, checked_out_at, cleanup_next_at, cleanup_last_error from vms order by name`;
    const eventsBefore = await client`select * from events order by id`;
    const outboxBefore = await client`select id, kind, payload, delivered_at from outbox order by id`;

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    expect(await client`select name, state, holder, checked_out_at, cleanup_next_at, cleanup_last_error from vms order by name`).toEqual(before);
    expect(await client`select * from events order by id`).toEqual(eventsBefore);
    expect(await client`select id, kind, payload, delivered_at from outbox order by id`).toEqual(outboxBefore);
    // This release's additions are there and work on the old rows.
    const [sweeps] = await client`select to_regclass('sweep_runs') is not null as present`;
    expect(sweeps?.present).toBe(true);
    const wake = new Promise<string>((resolve) => void client.listen("vmres_cleanup", (payload) => resolve(`woken${payload}`)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await drizzle(client).execute(sql`update vms set cleanup_next_at = now() where name = 'vm-dirty'`);
    expect(await wake).toBe("woken");
  });
});
