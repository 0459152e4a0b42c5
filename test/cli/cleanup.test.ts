import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import type { Core } from "../../src/core/types.js";
import type { Database } from "../../src/db/client.js";
import { cliFor, databaseSnapshot } from "../helpers/cli.js";
import { coreFor, freshDatabase, urlFor } from "../helpers/db.js";

const operator = { person: "operator", source: "cli" } as const;

let database: Database & { name: string };
let core: Core;
let vmres: ReturnType<typeof cliFor>;

const stateOf = async (vm: string) => (await core.db.execute<{ state: string }>(sql`select state from vms where name = ${vm}`))[0]?.state;

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database);
  for (const [pool, n] of [["trial", 1], ["stuck", 2]] as const) {
    for (let i = 1; i <= n; i++) {
      const added = await addVm(core, operator, { name: `${pool}-${i}`, ip: `198.51.100.${i}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
      expect(added.ok).toBe(true);
    }
  }
  vmres = cliFor({ databaseUrl: urlFor(database.name) });
});
afterAll(async () => database.close());

describe("vmres pool set --cleanup", () => {
  it("sets a pool to no cleanup: a check-in then says the VM is available again at once, and status shows it", async () => {
    const set = await vmres(["pool", "set", "trial", "--cleanup", "none"]);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("no cleanup: a checked-in VM is available again at once");

    expect((await vmres(["checkout", "--user", "UALICE01", "--pool", "trial"])).code).toBe(0);
    const back = await vmres(["checkin", "trial-1", "--user", "UALICE01"]);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain("It is available again at once: pool trial has no cleanup, so nothing was wiped.");
    expect(await stateOf("trial-1")).toBe("available");

    const status = await vmres(["status"]);
    expect(status.stdout).toMatch(/POOL\s+QUOTA\s+CLEANUP/);
    expect(status.stdout).toMatch(/\ntrial\s+1\s+none\s/);
  });

  it("refuses a word it does not know, saying what would be right (exit 2), and changes nothing", async () => {
    const before = await databaseSnapshot(database.db.$client);
    const r = await vmres(["pool", "set", "trial", "--cleanup", "sometimes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--cleanup: "sometimes": use none (a checked-in VM is available again at once) or ssh');
    expect(await databaseSnapshot(database.db.$client)).toBe(before);
  });

  it("goes back to cleaning over SSH with --cleanup ssh", async () => {
    const r = await vmres(["pool", "set", "trial", "--cleanup", "ssh"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("cleaned over SSH after each check-in");
  });
});

describe("vmres cleanup done", () => {
  it("ends a stuck cleanup on record: the VM is available again, the history names who and why", async () => {
    expect((await vmres(["checkout", "--user", "UBOB0001", "--pool", "stuck"])).code).toBe(0);
    const held = (await core.db.execute<{ name: string }>(sql`select name from vms where state = 'checked_out'`))[0]!.name;
    expect((await vmres(["checkin", held, "--user", "UBOB0001"])).code).toBe(0);
    expect(await stateOf(held)).toBe("cleaning");

    const r = await vmres(["cleanup", "done", held, "--reason", "wiped /tmp by hand"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${held}: cleanup ended by hand; it is available again (on record: "wiped /tmp by hand").`);
    expect(await stateOf(held)).toBe("available");
    const history = await vmres(["history", held, "--json"]);
    expect(JSON.parse(history.stdout)[0]).toMatchObject({ kind: "cleanup_done_by_hand", actor: "operator", source: "cli", detail: { reason: "wiped /tmp by hand" } });
  });

  it("refuses a VM that is not being cleaned (exit 3) and says which state it is in and which it needs", async () => {
    const before = await databaseSnapshot(database.db.$client);
    const r = await vmres(["cleanup", "done", "stuck-2", "--reason", "just because"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("stuck-2 is available; this needs a VM that is cleaning.");
    expect(await databaseSnapshot(database.db.$client)).toBe(before);
  });

  it("needs a reason (exit 2, before the database is opened) and refuses a person who is not an admin (exit 3)", async () => {
    const none = await vmres(["cleanup", "done", "stuck-2"]);
    expect(none.code).toBe(2);
    expect(none.stderr.split("\n")[0]).toMatch(/^vmres: --reason is required, it is kept on record: \S+ cleanup done stuck-2 --reason "wiped \/tmp by hand"$/);
    const notAdmin = await vmres(["cleanup", "done", "stuck-2", "--reason", "x", "--user", "UBOB0001"]);
    expect(notAdmin.code).toBe(3);
    expect(notAdmin.stderr).toContain("not an admin");
  });
});

describe("a checkout and a booking while the pool's cleanup is blocked", () => {
  it("warn that VMs checked in will stay in cleaning, and how to get out of it (text and --json)", async () => {
    await core.db.execute(sql`update pools set cleanup_blocked = 'cleanup blocked: cannot read SSH private key file /k: ENOENT' where name = 'stuck'`);
    const taken = await vmres(["checkout", "--user", "UCAROL01", "--pool", "stuck"]);
    expect(taken.code).toBe(0);
    expect(taken.stdout).toContain(
      "Warning: cleanup is blocked in pool stuck (vmres cannot use its SSH key): VMs checked in there stay in cleaning until an admin runs",
    );
    expect(taken.stdout).toMatch(/cleanup done VM --reason "…" or \S+ pool set stuck --cleanup none\.$/m);
    const json = await vmres(["checkout", "--user", "UDAVE001", "--pool", "stuck", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ pool: "stuck", cleanupBlocked: true });

    const from = new Date(Date.now() + 3 * 86_400_000);
    const to = new Date(from.getTime() + 3_600_000);
    const booked = await vmres(["reserve", "--user", "UERIN001", "--pool", "trial", "--count", "1", "--from", from.toISOString(), "--to", to.toISOString(), "--label", "fine"]);
    expect(booked.code).toBe(0);
    expect(booked.stdout).not.toContain("Warning");
    await core.db.execute(sql`update pools set cleanup_blocked = 'cleanup blocked: x' where name = 'trial'`);
    const warned = await vmres(["reserve", "--user", "UERIN001", "--pool", "trial", "--count", "1", "--from", to.toISOString(), "--to", new Date(to.getTime() + 3_600_000).toISOString(), "--label", "warned"]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain("Warning: cleanup is blocked in pool trial");
    const status = await vmres(["status"]);
    expect(status.stdout).toMatch(/Cleanup blocked \(VMs checked in stay in cleaning until an admin runs \S+ cleanup done VM/);
    expect(status.stdout).toMatch(/\nstuck\s+0\s+cleanup blocked: cannot read SSH private key file \/k: ENOENT/);
  });
});
