import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import type { Core } from "../../src/core/types.js";
import { connect } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { cliFor, databaseSnapshot } from "../helpers/cli.js";
import { coreFor, testLog, urlFor } from "../helpers/db.js";

const MIGRATIONS = (JSON.parse(readFileSync(new URL("../../drizzle/meta/_journal.json", import.meta.url), "utf8")) as { entries: unknown[] }).entries.length;

let sql: postgres.Sql;
let core: Core;
let vmres: ReturnType<typeof cliFor>;
/** Roles decided by which VMs the two checkouts got: held ones and idle ones. */
let held: [string, string];
let idle: [string, string];

/** An inventory file with one pool (quota 2) and these VMs. */
function inventory(file: string, vms: { name: string; ip: string }[]): string {
  const path = join(vmres.cwd, file);
  const lines = ["pools:", "  default:", "    quota: 2", "    vms:", ...vms.map((v) => `      - { name: ${v.name}, ip: ${v.ip} }`)];
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

const vmRow = async (name: string) =>
  (await sql`select host(ip) as ip, state, (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) as holder, retire_on_checkin, pending_update from vms where name = ${name}`)[0];

beforeAll(async () => {
  // A database with no tables at all: the first test migrates it through the CLI.
  const name = `test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  sql = connect(urlFor(name), { lockTimeoutMs: 5000, poolSize: 4, log: testLog });
  core = coreFor({ db: drizzle(sql, { schema }) });
  vmres = cliFor({ databaseUrl: urlFor(name) });
});
afterAll(async () => sql.end());

describe("vmres db migrate", () => {
  it("on a new database applies every migration and says so", async () => {
    const r = await vmres(["db", "migrate"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`Applied ${MIGRATIONS} migrations; the database is up to date (${MIGRATIONS} in all).`);
    const [row] = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(row).toEqual({ n: MIGRATIONS });
  });
});

describe("vmres pool sync", () => {
  it("applies the file given with --file, relative to the working folder, and reports what it added", async () => {
    inventory("vms.yml", [1, 2, 3, 4].map((n) => ({ name: `vm-0${n}`, ip: `198.51.100.${n}` })));
    const r = await vmres(["pool", "sync", "--file", "vms.yml", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ added: ["vm-01", "vm-02", "vm-03", "vm-04"], updated: [], pending: [], restored: [], retired: [], unchanged: 0 });
    const states = await sql`select name, state from vms order by name`;
    expect(states.map((s) => `${s.name}:${s.state}`)).toEqual(["vm-01:available", "vm-02:available", "vm-03:available", "vm-04:available"]);
  });

  it("updates an idle VM, holds back a held one's change, and retires what the file no longer lists", async () => {
    const a = await checkout(core, { person: { slackUserId: "UALICE01" }, source: "slack" });
    const b = await checkout(core, { person: { slackUserId: "UBOB0001" }, source: "slack" });
    if (!a.ok || !b.ok) throw new Error("setup: two checkouts expected to succeed");
    held = [a.value.name, b.value.name];
    idle = ["vm-01", "vm-02", "vm-03", "vm-04"].filter((n) => !held.includes(n)) as [string, string];
    // Changed: held[0] and idle[0] get new IPs. Removed: held[1] and idle[1].
    const file = inventory("changed.yml", [
      { name: held[0], ip: "203.0.113.10" },
      { name: idle[0], ip: "203.0.113.20" },
    ]);

    const r = await vmres(["pool", "sync", "--file", file]);
    expect(r.code).toBe(0);
    const report = r.stdout.trim().split("\n");
    expect(report).toContain(`updated   1  ${idle[0]}`);
    expect(report).toContain(`pending   1  ${held[0]}  (held: applied at check-in)`);
    expect(report.find((l) => l.startsWith("retired"))).toMatch(new RegExp(`^retired   2  (${held[1]}, ${idle[1]}|${idle[1]}, ${held[1]})$`));
    expect(report).toContain("added     0");

    expect(await vmRow(idle[0])).toMatchObject({ ip: "203.0.113.20", state: "available" });
    expect(await vmRow(held[0])).toMatchObject({ state: "checked_out", holder: "UALICE01", pending_update: { ip: "203.0.113.10" } });
    expect((await vmRow(held[0]))!.ip).not.toBe("203.0.113.10");
    expect(await vmRow(held[1])).toMatchObject({ state: "checked_out", holder: "UBOB0001", retire_on_checkin: true });
    expect(await vmRow(idle[1])).toMatchObject({ state: "retired" });
  });

  it("a held VM removed from the file retires at its check-in; a held VM's new IP applies then", async () => {
    const r = await vmres(["checkin", held[1], "--user", "UBOB0001"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("removed from the inventory, so it is now retired");
    expect(await vmRow(held[1])).toMatchObject({ state: "retired", holder: null });

    expect((await checkin(core, { person: { slackUserId: "UALICE01" }, source: "slack" }, held[0])).ok).toBe(true);
    expect(await vmRow(held[0])).toMatchObject({ ip: "203.0.113.10", state: "cleaning", pending_update: null });
  });

  it("refuses a file that is not valid YAML, exits 2, and changes nothing", async () => {
    const file = join(vmres.cwd, "broken.yml");
    writeFileSync(file, "pools:\n  default:\n    vms: [\n      { name: vm-01, ip: 198.51.100.1 }\n");
    const before = await databaseSnapshot(sql);
    const r = await vmres(["pool", "sync", "--file", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^vmres: ${file} has 1 error:\n  line 5, column 1: not valid YAML: `));
    expect(r.stderr).toContain("Nothing was changed.");
    expect(await databaseSnapshot(sql)).toBe(before);
  });

  it("refuses a file with one bad field, naming the entry and field, and applies none of the good ones", async () => {
    const file = inventory("bad-ip.yml", [
      { name: idle[0], ip: "203.0.113.99" },
      { name: "vm-09", ip: "999.1.1.1" },
    ]);
    const before = await databaseSnapshot(sql);
    const r = await vmres(["pool", "sync", "--file", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`pools.default.vms[1] (vm-09).ip: "999.1.1.1" is not an IPv4 or IPv6 address`);
    expect(await databaseSnapshot(sql)).toBe(before);
  });
});

describe("pool administration", () => {
  it("pool add creates the pool and the VM with its SSH settings and tags", async () => {
    const r = await vmres(["pool", "add", "gpu-01", "2001:db8::1", "--pool", "gpu", "--ssh-user", "ubuntu", "--ssh-port", "2222", "--tag", "a100", "--tag", "big"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("Added gpu-01 (ubuntu@2001:db8::1 -p 2222) to pool gpu.");
    const [row] = await sql`select host(ip) as ip, pool, ssh_user, ssh_port, tags, state from vms where name = 'gpu-01'`;
    expect(row).toEqual({ ip: "2001:db8::1", pool: "gpu", ssh_user: "ubuntu", ssh_port: 2222, tags: ["a100", "big"], state: "available" });
  });

  it("pool drain with a --user who is not an admin is refused and changes nothing", async () => {
    const before = await databaseSnapshot(sql);
    const r = await vmres(["pool", "drain", "gpu-01", "--user", "UBOB0001"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/UBOB0001 is not an admin: only admins \(\S+\/bin\/vmres\.js people list; SLACK_ADMINS at start\) may drain a VM/);
    expect(await databaseSnapshot(sql)).toBe(before);
  });

  it("pool drain by the local operator takes the VM out of service, on record", async () => {
    const r = await vmres(["pool", "drain", "gpu-01"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("gpu-01: available → maintenance.");
    const [event] = await sql`select actor, source, kind from events where vm_name = 'gpu-01' order by id desc limit 1`;
    expect(event).toEqual({ actor: "operator", source: "cli", kind: "drained" });
  });

  it("pool remove retires the VM and keeps its history", async () => {
    const r = await vmres(["pool", "remove", "gpu-01", "--user", "UADMIN01", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ vm: "gpu-01", retired: "now" });
    expect(await vmRow("gpu-01")).toMatchObject({ state: "retired" });
    const [count] = await sql`select count(*)::int as n from events where vm_name = 'gpu-01'`;
    expect(count).toEqual({ n: 3 });
  });

  it("status lists a quarantined VM with its last error, and cleanup retry queues its cleanup again", async () => {
    // Only the cleanup worker quarantines a VM; here the row is put in that state directly.
    await sql`update vms set state = 'quarantined', state_changed_at = now(), cleanup_attempts = 3,
                cleanup_last_error = ${"ssh: connect ECONNREFUSED\n\u001b[31mred"} where name = ${idle[0]}`;
    const status = await vmres(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`\\n${idle[0]}\\s+default\\s+\\S+ \\S+\\s+ssh: connect ECONNREFUSED \\[31mred\\n?$`));

    const r = await vmres(["cleanup", "retry", idle[0]]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${idle[0]}: quarantined → cleaning.`);
    const [row] = await sql`select state, cleanup_attempts, cleanup_next_at <= now() as due from vms where name = ${idle[0]}`;
    expect(row).toEqual({ state: "cleaning", cleanup_attempts: 0, due: true });
  });
});
