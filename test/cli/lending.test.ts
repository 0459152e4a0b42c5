import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { cliFor, databaseSnapshot } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let vmres: ReturnType<typeof cliFor>;

/** Which VM a user holds, straight from the database. */
async function heldBy(user: string): Promise<string[]> {
  const rows = await database.sql<{ name: string }[]>`select name from vms where (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) = ${user} order by name`;
  return rows.map((r) => r.name);
}

beforeAll(async () => {
  database = await freshDatabase();
  const core = coreFor(database);
  for (const [name, ip, port] of [["vm-01", "198.51.100.1", 22], ["vm-02", "198.51.100.2", 2222]] as const) {
    const added = await addVm(core, { person: "operator", source: "cli" }, { name, ip, pool: "default", sshUser: "root", sshPort: port, hostKeyFingerprint: null, tags: [] });
    expect(added.ok).toBe(true);
  }
  vmres = cliFor({ databaseUrl: database.url });
});
afterAll(async () => database.close());

describe("vmres checkout", () => {
  it("lends a VM and prints the SSH line to reach it", async () => {
    const r = await vmres(["checkout", "--user", "UALICE01"]);
    expect(r.code).toBe(0);
    const [vm] = await heldBy("UALICE01");
    const expected = vm === "vm-01" ? "ssh root@198.51.100.1 -p 22" : "ssh root@198.51.100.2 -p 2222";
    expect(r.stdout.split("\n")).toContain(expected);
    const [event] = await database.sql`select actor, source, kind from events where vm_name = ${vm!} order by id desc limit 1`;
    expect(event).toEqual({ actor: "UALICE01", source: "cli", kind: "checked_out" });
  });

  it("with --json prints the VM lent, and nothing else on stdout", async () => {
    const r = await vmres(["checkout", "--user", "UBOB0001", "--json"]);
    expect(r.code).toBe(0);
    const vm = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(vm).toMatchObject({ pool: "default", sshUser: "root" });
    expect(Object.keys(vm).sort()).toEqual(["bookedFrom", "checkedOutAt", "checkoutId", "cleanupBlocked", "endsAt", "ip", "name", "note", "pool", "sshPort", "sshUser", "startedAt"]);
    // startedAt is the name; checkedOutAt stays one release for scripts that read it (docs/cli.md), with the same value.
    const [row] = await database.sql<{ started: string }[]>`select to_json(started_at)#>>'{}' as started from checkouts where id = ${vm["checkoutId"] as number}`;
    expect(vm["startedAt"]).toBe(new Date(row!.started).toISOString());
    expect(vm["checkedOutAt"]).toBe(vm["startedAt"]);
    expect(await heldBy("UBOB0001")).toEqual([vm["name"]]);
  });

  it("refuses a second VM over the quota, naming the VM held and how to check it in", async () => {
    const [held] = await heldBy("UALICE01");
    const r = await vmres(["checkout", "--user", "UALICE01"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`quota 1): ${held}.`);
    expect(r.stderr).toContain(`/bin/vmres.js checkin ${held} --user UALICE01`);
    expect(await heldBy("UALICE01")).toEqual([held]);
  });

  it("says no VM is free with the counts by state, in words and in JSON", async () => {
    const r = await vmres(["checkout", "--user", "UCAROL01", "--json"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/No VM is free in pool "default" \(2 checked out\)\. Try again later, or wait for one: \S+\/bin\/vmres\.js checkout --user UCAROL01 --pool default --wait/);
    const { error } = JSON.parse(r.stdout) as { error: { code: string; counts: Record<string, number> } };
    expect(error.code).toBe("no_vm_free");
    expect(error.counts).toMatchObject({ available: 0, checked_out: 2 });
  });

  it("refuses an unknown pool and names the known ones", async () => {
    const r = await vmres(["checkout", "--user", "UCAROL01", "--pool", "gpu"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/There is no pool "gpu"\. Known pools: default\./);
    expect(await heldBy("UCAROL01")).toEqual([]);
  });
});

describe("vmres checkin", () => {
  it("refuses someone who does not hold the VM, without saying who does, and changes nothing", async () => {
    const [vm] = await heldBy("UALICE01");
    const before = await databaseSnapshot(database.sql);
    const r = await vmres(["checkin", vm!, "--user", "UBOB0001"]);
    expect(r.code).toBe(3);
    // Everyone may know whom to ask (HIDE_HOLDERS is off; test/core/people.test.ts covers it on).
    expect(r.stderr).toContain(`${vm} is held by UALICE01, not by you`);
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });

  it("refuses --force from someone who is not an admin", async () => {
    const [vm] = await heldBy("UALICE01");
    const before = await databaseSnapshot(database.sql);
    const r = await vmres(["checkin", vm!, "--user", "UBOB0001", "--force"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/UBOB0001 is not an admin: only admins \(\S+\/bin\/vmres\.js people list; SLACK_ADMINS at start\) may force check-in/);
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });

  it("lets an admin take a VM back with --force, on record in its history", async () => {
    const [vm] = await heldBy("UALICE01");
    const r = await vmres(["checkin", vm!, "--user", "UADMIN01", "--force"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Checked in ${vm} (taken back from UALICE01)`);
    const [row] = await database.sql`select state, (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) as holder from vms where name = ${vm!}`;
    expect(row).toEqual({ state: "cleaning", holder: null });

    const history = await vmres(["history", vm!]);
    expect(history.code).toBe(0);
    const lines = history.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^AT\s+ACTOR\s+SOURCE\s+EVENT\s+DETAIL$/);
    expect(lines[1]).toMatch(/UADMIN01\s+cli\s+checkin_forced\s.*previousHolder=UALICE01/);
    expect(lines[2]).toMatch(/UALICE01\s+cli\s+checked_out/);
    expect(lines.at(-1)).toMatch(/operator\s+cli\s+added/);
    // Columns line up: every row's EVENT starts where the header's does.
    const column = lines[0]!.indexOf("EVENT");
    for (const line of lines.slice(1)) expect(line.slice(column)).toMatch(/^[a-z_]+\s/);
  });
});

describe("vmres list and status", () => {
  it("list --user shows only the VMs that user holds", async () => {
    const [vm] = await heldBy("UBOB0001");
    const r = await vmres(["list", "--user", "UBOB0001"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^NAME\s+POOL\s+STATE\s+HOLDER\s+SINCE\s+ENDS\s+SSH\s+TAGS$/);
    // Ends after the default lease (DEFAULT_LEASE, 8h), in local time and from now.
    expect(lines[1]).toMatch(new RegExp(`^${vm}\\s+default\\s+checked out\\s+UBOB0001\\s+\\S+ \\S+\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\S* \\(in 7 h 5\\d min\\)\\s`));
  });

  it("list --json and status --json say when each checkout started as startedAt, and keep the deprecated checkedOutAt with the same value", async () => {
    const [vm] = await heldBy("UBOB0001");
    const [row] = await database.sql<{ started: string }[]>`select to_json(c.started_at)#>>'{}' as started from vms v join checkouts c on c.id = v.checkout_id where v.name = ${vm!}`;
    const started = new Date(row!.started).toISOString();
    const [list, status] = await Promise.all([vmres(["list", "--json"]), vmres(["status", "--json"])]);
    expect(list.code).toBe(0);
    expect(status.code).toBe(0);
    type Listed = { name: string; startedAt: string | null; checkedOutAt: string | null };
    const listed = JSON.parse(list.stdout) as Listed[];
    expect(listed.map((v) => v.name).sort()).toEqual(["vm-01", "vm-02"]);
    for (const v of listed) expect(v.checkedOutAt, v.name).toBe(v.startedAt);
    expect(listed.find((v) => v.name === vm)!.startedAt).toBe(started);
    expect(listed.find((v) => v.name !== vm)!.startedAt).toBeNull();
    const { longestHolds } = JSON.parse(status.stdout) as { longestHolds: Listed[] };
    expect(longestHolds).toEqual([expect.objectContaining({ name: vm, startedAt: started, checkedOutAt: started })]);
  });

  it("status counts each pool's VMs by state", async () => {
    const r = await vmres(["status"]);
    expect(r.code).toBe(0);
    const [header, line] = r.stdout.trim().split("\n");
    expect(header).toMatch(/^POOL\s+QUOTA\s+CLEANUP\s+TOTAL\s+AVAILABLE\s+HELD\s+CHECKED OUT\s+CLEANING\s+QUARANTINED\s+MAINTENANCE\s+RETIRED\s+WAITING$/);
    expect(line!.split(/\s+/)).toEqual(["default", "1", "ssh", "2", "0", "0", "1", "1", "0", "0", "0", "0"]);
  });
});
