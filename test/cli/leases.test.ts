import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import type { Core } from "../../src/core/types.js";
import { queuesOf } from "../../src/core/waitlist.js";
import { cliFor, databaseSnapshot, type CliRun } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

/**
 * The CLI's own contract for leases and the waitlist, through the real CLI process against a real
 * database: its arguments, words, exit codes and `--json` shapes, and a few end-to-end paths (a
 * checkout's lease, a `checkout --wait` woken across processes by the database, Ctrl-C). The rules
 * themselves (lease lengths and limits, who may set or pin, queue order, what a wait keeps or
 * leaves) are tested at the core, fast: test/core/leases.test.ts, test/core/lease-changes.test.ts
 * and test/core/wait-for-checkout.test.ts.
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;
let vmres: ReturnType<typeof cliFor>;

const HOUR = 3_600_000;
const operator = { person: "operator", source: "cli" } as const;

async function add(name: string, n: number, pool: string): Promise<void> {
  const added = await addVm(core, operator, { name, ip: `198.51.100.${n}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
  expect(added.ok).toBe(true);
}

/** The open checkout of a VM: its holder and lease. */
async function checkoutOf(vm: string) {
  const [row] = await database.sql<{ holder: string; started_at: string; ends_at: string | null }[]>`
    select p.name as holder, c.started_at, c.ends_at from vms v join checkouts c on c.id = v.checkout_id join people p on p.id = c.person_id where v.name = ${vm}`;
  return row && { holder: row.holder, started_at: new Date(row.started_at), ends_at: row.ends_at === null ? null : new Date(row.ends_at) };
}

const leaseMs = (row: { started_at: Date; ends_at: Date | null } | undefined) => (row?.ends_at ? row.ends_at.getTime() - row.started_at.getTime() : null);

/** Waits until the pool's queue holds `n` people waiting (a background `checkout --wait` has joined). */
async function untilWaiting(pool: string, n: number): Promise<void> {
  await expect
    .poll(async () => (await database.sql<{ n: number }[]>`select count(*)::int as n from waiters where pool = ${pool} and state = 'waiting'`)[0]!.n, { timeout: 30_000, interval: 100 })
    .toBeGreaterThanOrEqual(n);
}

const json = <T>(r: CliRun): T => JSON.parse(r.stdout) as T;
const summary = (r: CliRun) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database);
  await add("vm-01", 1, "default");
  await add("vm-02", 2, "default");
  // A pool with short leases: at most 3d, 8h by default.
  await add("short-01", 11, "short");
  await add("short-02", 12, "short");
  await database.sql`update pools set lease_seconds = 8 * 3600, max_lease_seconds = 3 * 86400 where name = 'short'`;
  await add("q-01", 21, "q");
  await add("q2-01", 31, "q2");
  await add("w-01", 41, "w");
  // A waiting call ends when its VM comes (woken by the database) or at its short --timeout.
  vmres = cliFor({ databaseUrl: database.url, timeoutMs: 30_000 });
});
afterAll(async () => database.close());

describe("checkout --for and the lease's end", () => {
  it("lends the VM for the length asked, and says when it ends", async () => {
    const r = await vmres(["checkout", "--user", "UALICE01", "--for", "4h"]);
    expect(r.code, summary(r)).toBe(0);
    const name = /Checked out (\S+) /.exec(r.stdout)?.[1] ?? "";
    expect(leaseMs(await checkoutOf(name))).toBe(4 * HOUR);
    // Local time, ISO-like, then how far away it is.
    expect(r.stdout).toMatch(/Lease ends: \d{4}-\d\d-\d\d \d\d:\d\d(Z|[+-]\d\d:\d\d) \(in 3 h 59 min\)\. Extend it with \S+\/bin\/vmres\.js extend \S+ --user UALICE01/);
  });

  it("with --json carries the end", async () => {
    const r = await vmres(["checkout", "--user", "UBOB0001", "--pool", "short", "--json"]);
    expect(r.code, summary(r)).toBe(0);
    const vm = json<{ startedAt: string; endsAt: string }>(r);
    // The pool's own lease, 8h.
    expect(new Date(vm.endsAt).getTime() - new Date(vm.startedAt).getTime()).toBe(8 * HOUR);
  });

  it("refuses a lease beyond the pool's maximum (exit 3, with the maximum), and lends nothing", async () => {
    const before = await databaseSnapshot(database.sql);
    const r = await vmres(["checkout", "--user", "UCAROL01", "--pool", "short", "--for", "4d", "--json"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('That is longer than pool "short" allows: at most 3d from the checkout\'s start');
    expect(json<{ error: { code: string; maxMs: number } }>(r).error).toMatchObject({ code: "lease_too_long", pool: "short", maxMs: 3 * 24 * HOUR });
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });

  it.each([
    [["checkout", "--user", "UCAROL01", "--for", "soon"], '--for: "soon" is not a duration: write it like 90m, 4h, 2d or 1d12h'],
    [["checkout", "--user", "UCAROL01", "--for", "0m"], '--for: "0m" is too short: a lease is at least 1m and at most 3650d'],
    [["checkout", "--user", "UCAROL01", "--wait", "--timeout", "x"], '--timeout: "x" is not a duration'],
    [["checkout", "--user", "UCAROL01", "--timeout", "5m"], "--timeout goes with --wait"],
    [["extend", "vm-01", "--user", "UALICE01", "--by", "0m"], '--by: "0m" is too short'],
    [["extend", "vm-01", "--user", "UALICE01", "--by", "1.5h"], '--by: "1.5h" is not a duration'],
    [["extend", "vm-01", "--until", "tomorrow"], '--until: "tomorrow" is not a time: give a date and time in ISO 8601, like 2026-12-24T18:00Z'],
    [["extend", "vm-01", "--until", "2020-01-01T00:00Z"], '--until: "2020-01-01T00:00Z" has passed'],
    [["extend", "vm-01", "--until", "2099-02-30T10:00Z"], "is not a real date and time"],
    [["extend", "vm-01", "--by", "2h", "--pin"], "--by and --pin say different things: give one"],
    [["pool", "set", "short"], "say what to change: --lease D, --max-lease D, --quota N, --max-booking-ahead D, --max-booking-length D or --cleanup none|ssh"],
    [["pool", "set", "short", "--quota", "0"], '--quota: "0" is not a quota'],
    [["pool", "set", "short", "--lease", "2d", "--max-lease", "1d"], "--lease 2d is longer than --max-lease 1d"],
    [["pool", "add", "vm-09", "198.51.100.9", "--lease", "forever"], '--lease: "forever" is not a duration'],
  ])("bad input %j: exit 2, says what would be right, changes nothing", async (args, message) => {
    const before = await databaseSnapshot(database.sql);
    const r = await vmres(args);
    expect(r.code, summary(r)).toBe(2);
    expect(r.stderr).toContain(message);
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });
});

describe("vmres extend", () => {
  it("extends the holder's lease by --by", async () => {
    const before = await checkoutOf("short-01").then((c) => c ?? checkoutOf("short-02"));
    const vm = (await checkoutOf("short-01"))?.holder === "UBOB0001" ? "short-01" : "short-02";
    const r = await vmres(["extend", vm, "--user", "UBOB0001", "--by", "2h", "--json"]);
    expect(r.code, summary(r)).toBe(0);
    const after = await checkoutOf(vm);
    expect(after!.ends_at!.getTime() - before!.ends_at!.getTime()).toBe(2 * HOUR);
    expect(json<{ vm: string; endsAt: string; byAdmin: boolean }>(r)).toMatchObject({ vm, endsAt: after!.ends_at!.toISOString(), byAdmin: false });
  });

  it("without --by extends by the pool's lease, in words with the new end", async () => {
    const vm = (await checkoutOf("short-01"))?.holder === "UBOB0001" ? "short-01" : "short-02";
    const r = await vmres(["extend", vm, "--user", "UBOB0001"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Extended by the pool's lease: ${vm} now ends \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\S* \\(in 17 h 5\\d min\\) \\(was `));
    expect(leaseMs(await checkoutOf(vm))).toBe(18 * HOUR);
  });

  it("refuses the holder past the pool's maximum, naming the latest end, and changes nothing", async () => {
    const vm = (await checkoutOf("short-01"))?.holder === "UBOB0001" ? "short-01" : "short-02";
    const before = await databaseSnapshot(database.sql);
    const r = await vmres(["extend", vm, "--user", "UBOB0001", "--by", "3d", "--json"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/at most 3d from the checkout's start, so it can run until \d{4}-\d\d-\d\d \d\d:\d\d\S* \(in 2 d 23 h\) at the latest\./);
    const { error } = json<{ error: { code: string; latestEnd: string } }>(r);
    expect(error.code).toBe("lease_too_long");
    const c = await checkoutOf(vm);
    expect(new Date(error.latestEnd).getTime() - c!.started_at.getTime()).toBe(72 * HOUR);
    expect(await databaseSnapshot(database.sql)).toBe(before);
  });

  it("refuses --pin and --until from someone who is not an admin", async () => {
    const vm = (await checkoutOf("short-01"))?.holder === "UBOB0001" ? "short-01" : "short-02";
    const r = await vmres(["extend", vm, "--user", "UBOB0001", "--pin"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/UBOB0001 is not an admin: only admins \(\S+\/bin\/vmres\.js people list; SLACK_ADMINS at start\) may set or pin a lease/);
  });

  it("lets an admin set any end with --until, past the maximum, on record", async () => {
    const vm = (await checkoutOf("short-01"))?.holder === "UBOB0001" ? "short-01" : "short-02";
    const until = new Date(Date.now() + 10 * 24 * HOUR);
    until.setUTCSeconds(0, 0);
    const r = await vmres(["extend", vm, "--user", "UADMIN01", "--until", until.toISOString()]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^End set: ${vm} \\(held by UBOB0001, who is told\\) now ends .* \\(in (9 d 23 h|10 d)\\)`));
    expect(r.stdout).not.toContain("as the operator");
    expect((await checkoutOf(vm))!.ends_at!.toISOString()).toBe(until.toISOString());
    const [event] = await database.sql`select actor, kind from events where vm_name = ${vm} order by id desc limit 1`;
    expect(event).toEqual({ actor: "UADMIN01", kind: "lease_set" });
  });

  it("lets the local operator (no --user) pin it; listings then say pinned", async () => {
    const vm = (await checkoutOf("short-01"))?.holder === "UBOB0001" ? "short-01" : "short-02";
    const r = await vmres(["extend", vm, "--pin"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toContain(`${vm} (held by UBOB0001, who is told) is pinned`);
    expect(r.stdout).toMatch(/ Done as the operator, on record \(--user NAME puts your own name on it\)\.\n$/);
    expect((await checkoutOf(vm))!.ends_at).toBeNull();
    const list = await vmres(["list", "--user", "UBOB0001"]);
    expect(list.stdout.split("\n")[1]).toMatch(new RegExp(`^${vm}\\s+short\\s+checked out\\s+UBOB0001\\s+\\S+ \\S+\\s+pinned\\s+root@`));
    const again = await vmres(["extend", vm, "--user", "UBOB0001"]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`${vm} is pinned: it has no end to extend.`);
  });
});

describe("vmres wait and unwait", () => {
  it("queues people in order, says each one's position, and a second wait says where one stands", async () => {
    // q has one VM: UDAVE001 takes it, so the queue forms.
    expect((await vmres(["checkout", "--user", "UDAVE001", "--pool", "q"])).code).toBe(0);
    const UERIN001 = await vmres(["wait", "--user", "UERIN001", "--pool", "q"]);
    expect(UERIN001.code, summary(UERIN001)).toBe(0);
    expect(UERIN001.stdout.trim()).toBe('UERIN001 joined the queue of pool "q": position 1 (next in line).');
    const UFRANK01 = await vmres(["wait", "--user", "UFRANK01", "--pool", "q", "--json"]);
    expect(json(UFRANK01)).toMatchObject({ pool: "q", position: 2, state: "waiting", already: false });
    const again = await vmres(["wait", "--user", "UERIN001", "--pool", "q"]);
    expect(again.stdout.trim()).toBe('UERIN001 is already in the queue of pool "q": position 1 (next in line).');
  });

  it("a person waits in two queues at once; list --user shows both places", async () => {
    expect((await vmres(["checkout", "--user", "UDAVE001", "--pool", "q2"])).code).toBe(0);
    expect((await vmres(["wait", "--user", "UFRANK01", "--pool", "q2"])).code).toBe(0);
    // The JSON stays the array of VMs scripts already read.
    const r = await vmres(["list", "--user", "UFRANK01", "--json"]);
    expect(r.code, summary(r)).toBe(0);
    expect(json<unknown[]>(r)).toEqual([]);
    const text = await vmres(["list", "--user", "UFRANK01"]);
    expect(text.stdout).toMatch(/^UFRANK01 holds no VM\.\n\nUFRANK01 waits in 2 queues:\nPOOL\s+POSITION\s+SINCE\nq\s+position 2\s+\S+ \S+\nq2\s+position 1 \(next in line\)\s+\S+ \S+\n$/);
  });

  it("a checkout while people wait is refused, saying they come first and how to wait", async () => {
    const r = await vmres(["checkout", "--user", "UGINA001", "--pool", "q"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('No VM is free in pool "q" (1 checked out; 2 people wait in its queue and get free VMs first).');
    expect(r.stderr).toMatch(/\S+\/bin\/vmres\.js checkout --user UGINA001 --pool q --wait/);
  });

  it("status shows queue lengths, and status --json the queues and longest holds", async () => {
    const r = await vmres(["status"]);
    expect(r.code, summary(r)).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^POOL\s+QUOTA\s+CLEANUP\s+TOTAL\s+AVAILABLE\s+HELD\s+CHECKED OUT\s+CLEANING\s+QUARANTINED\s+MAINTENANCE\s+RETIRED\s+WAITING$/);
    expect(lines.find((l) => l.startsWith("q "))!.split(/\s+/)).toEqual(["q", "1", "ssh", "1", "0", "0", "1", "0", "0", "0", "0", "2"]);
    expect(r.stdout).toMatch(/\nLongest holds:\nNAME\s+POOL\s+HOLDER\s+SINCE\s+FOR\s+ENDS\n/);
    const s = json<{ queues: { pool: string; waiting: number }[]; longestHolds: { name: string; endsAt: string | null }[] }>(await vmres(["status", "--json"]));
    expect(s.queues).toEqual([
      { pool: "q", waiting: 2, offered: 0 },
      { pool: "q2", waiting: 1, offered: 0 },
    ]);
    expect(s.longestHolds.length).toBeGreaterThanOrEqual(4);
    expect(s.longestHolds.some((v) => v.endsAt === null)).toBe(true);
  });

  it("list --json carries each checkout's end", async () => {
    const vms = json<{ name: string; state: string; endsAt: string | null }[]>(await vmres(["list", "--json"]));
    const q = vms.find((v) => v.name === "q-01")!;
    expect(q.state).toBe("checked_out");
    expect(new Date(q.endsAt!).getTime()).toBeGreaterThan(Date.now() + 7 * HOUR);
  });

  it("unwait --pool leaves one queue and the next moves up; unwait alone leaves every queue", async () => {
    const UERIN001 = await vmres(["unwait", "--user", "UERIN001", "--pool", "q"]);
    expect(UERIN001.code, summary(UERIN001)).toBe(0);
    expect(UERIN001.stdout.trim()).toBe('UERIN001 left the queue of pool "q".');
    const UFRANK01 = await queuesOf(core, { lookup: "UFRANK01" });
    expect(UFRANK01.ok && UFRANK01.value.map((q) => [q.pool, q.position])).toEqual([["q", 1], ["q2", 1]]);
    const all = await vmres(["unwait", "--user", "UFRANK01", "--json"]);
    expect(json<{ left: string[] }>(all).left.sort()).toEqual(["q", "q2"]);
    const none = await vmres(["unwait", "--user", "UFRANK01"]);
    expect(none.code).toBe(3);
    expect(none.stderr.trim()).toBe("UFRANK01 is in no queue.");
  });
});

describe("checkout --wait", () => {
  it("exits 3 when nothing frees within --timeout, and leaves the queue", async () => {
    const r = await vmres(["checkout", "--user", "UHANK001", "--pool", "q", "--wait", "--timeout", "1s", "--json"]);
    expect(r.code, summary(r)).toBe(3);
    expect(r.stderr).toContain('No VM is free in pool "q": UHANK001 joined its queue, at position 1. Waiting up to 1s');
    expect(r.stderr).toContain('no VM came within 1s: UHANK001 left the queue of pool "q"; nothing was checked out.');
    expect(json<{ error: { code: string } }>(r).error).toMatchObject({ code: "wait_timeout", pool: "q" });
    const rows = await database.sql`select w.state from waiters w join people p on p.id = w.person_id where p.name = 'UHANK001'`;
    expect(rows).toEqual([{ state: "left" }]);
  });

  it("leaves the queue on SIGINT (Ctrl-C) and exits 3", async () => {
    // The helper's runs cannot be signalled: this one is spawned as it spawns them.
    const child = spawn(process.execPath, [join(vmres.installation, "dist/cli/main.js"), "checkout", "--user", "UHANK001", "--pool", "q", "--wait"], {
      cwd: vmres.cwd,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: vmres.cwd, SLACK_ADMINS: "UADMIN01", DATABASE_URL: database.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await untilWaiting("q", 1);
    child.kill("SIGINT");
    expect(await exited, stderr).toBe(3);
    expect(stderr).toContain('interrupted (SIGINT): UHANK001 left the queue of pool "q"; nothing was checked out.');
    const [row] = await database.sql`select count(*)::int as n from waiters where pool = 'q' and state in ('waiting', 'offered')`;
    expect(row).toEqual({ n: 0 });
  });

  it("gets the VM an admin adds to the pool while it waits, and prints it like a checkout", async () => {
    const waiting = vmres(["checkout", "--user", "UIVAN001", "--pool", "q", "--wait", "--timeout", "3m", "--for", "2h"]);
    await untilWaiting("q", 1);
    expect((await vmres(["pool", "add", "q-02", "198.51.100.22", "--pool", "q"])).code).toBe(0);
    const r = await waiting;
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toMatch(/^Checked out q-02 \(pool q, checkout \d+\) for UIVAN001 at /);
    expect(r.stdout).toContain("ssh root@198.51.100.22 -p 22");
    expect(leaseMs(await checkoutOf("q-02"))).toBe(2 * HOUR);
    const [w] = await database.sql`select w.state from waiters w join people p on p.id = w.person_id where p.name = 'UIVAN001'`;
    expect(w).toEqual({ state: "taken" });
  });

  it("for someone already in the queue (vmres wait): says the place is kept on timeout, and --json says so", async () => {
    await add("o-01", 61, "o");
    expect((await vmres(["checkout", "--user", "UKATE001", "--pool", "o"])).code).toBe(0);
    expect((await vmres(["wait", "--user", "UOLGA001", "--pool", "o"])).code).toBe(0);
    const timedOut = await vmres(["checkout", "--user", "UOLGA001", "--pool", "o", "--wait", "--timeout", "1s", "--json"]);
    expect(timedOut.code, summary(timedOut)).toBe(3);
    expect(timedOut.stderr).toContain('UOLGA001 was already in its queue, at position 1');
    expect(timedOut.stderr).toContain('UOLGA001 keeps the place in the queue of pool "o" taken before');
    expect(json<{ error: { inQueue: boolean } }>(timedOut).error.inQueue).toBe(true);
  });
});

describe("pool settings", () => {
  it("pool set changes a pool's lease, maximum and quota, and says what the pool is now", async () => {
    const r = await vmres(["pool", "set", "w", "--lease", "2h", "--max-lease", "1d", "--quota", "2"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout.trim()).toBe(
      "Pool w: lease 2h, at most 1d from a checkout's start, quota 2 per person; bookings start at most MAX_BOOKING_AHEAD ahead and last at most MAX_BOOKING_LENGTH, else the longest lease; cleaned over SSH after each check-in. Open checkouts keep their ends.",
    );
    const [row] = await database.sql`select quota, lease_seconds, max_lease_seconds from pools where name = 'w'`;
    expect(row).toEqual({ quota: 2, lease_seconds: 7200, max_lease_seconds: 86400 });
  });

  it("pool set --json, and an unknown pool is refused", async () => {
    const r = await vmres(["pool", "set", "w", "--quota", "1", "--json"]);
    expect(json(r)).toEqual({ pool: "w", quota: 1, leaseMs: 2 * HOUR, maxLeaseMs: 24 * HOUR, maxBookingAheadMs: null, maxBookingLengthMs: null, cleanup: "ssh" });
    const none = await vmres(["pool", "set", "nope", "--lease", "1h"]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('There is no pool "nope"');
  });

  it("pool set --max-booking-ahead and --max-booking-length set the pool's booking limits", async () => {
    const r = await vmres(["pool", "set", "w", "--max-booking-ahead", "30d", "--max-booking-length", "2h", "--json"]);
    expect(json(r)).toMatchObject({ pool: "w", maxBookingAheadMs: 30 * 24 * HOUR, maxBookingLengthMs: 2 * HOUR });
    const bad = await vmres(["pool", "set", "w", "--max-booking-ahead", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--max-booking-ahead");
  });

  it("pool add --lease --max-lease give a new pool its leases", async () => {
    const r = await vmres(["pool", "add", "new-01", "198.51.100.51", "--pool", "fresh", "--lease", "90m", "--max-lease", "1d12h"]);
    expect(r.code, summary(r)).toBe(0);
    const [row] = await database.sql`select lease_seconds, max_lease_seconds from pools where name = 'fresh'`;
    expect(row).toEqual({ lease_seconds: 5400, max_lease_seconds: 129_600 });
  });
});
