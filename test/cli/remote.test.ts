import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { cliFor, type CliRun } from "../helpers/cli.js";
import { personWithToken, snapshot, startApiHarness, type Harness } from "../api/helpers.js";

/**
 * The CLI over the HTTP API: with VMRES_URL and VMRES_TOKEN (or `vmres login`)
 * the person-level commands go through /v1 as the token's person, with the
 * output, --json and exit codes of direct mode. Real CLI processes against the
 * running service on real PostgreSQL; the direct-mode runs read the same
 * database, so each pair is compared on the same state.
 */
let h: Harness;
let direct: ReturnType<typeof cliFor>;
let alice: string;
let bob: string;
let admin: string;
const home = mkdtempSync(join(tmpdir(), "vmres-remote-home-"));

const operator = { person: "operator", source: "cli" } as const;
const summary = (r: CliRun) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** A CLI whose person-level commands go to the service as the token's person; no DATABASE_URL at all. */
function remote(token: string, env: Record<string, string> = {}) {
  return cliFor({ env: { HOME: home, VMRES_URL: h.url, VMRES_TOKEN: token, ...env }, timeoutMs: 120_000 });
}

async function add(name: string, n: number, pool: string): Promise<void> {
  const added = await addVm(h.core, operator, { name, ip: `198.51.100.${n}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: ["t"] });
  expect(added.ok).toBe(true);
}

beforeAll(async () => {
  h = await startApiHarness({ DEFAULT_POOL: "default" });
  direct = cliFor({ databaseUrl: h.database.url, env: { HOME: home }, timeoutMs: 120_000 });
  alice = (await personWithToken(h.core, "alice", { slackId: "UALICE01" })).token;
  bob = (await personWithToken(h.core, "bob")).token;
  admin = (await personWithToken(h.core, "root-admin", { admin: true })).token;
  await add("vm-01", 1, "default");
  await add("vm-02", 2, "default");
  await add("solo-01", 11, "solo");
}, 120_000);
afterAll(async () => {
  await h?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("person-level commands over the API", { timeout: 240_000 }, () => {
  it("checks out as the token's person, with direct mode's words and JSON", async () => {
    const r = await remote(alice)(["checkout", "--for", "4h", "--note", "api test"]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toMatch(/^Checked out (vm-0[12]) \(pool default, checkout \d+\) for alice at .+\nLease ends: .+ \(in 3 h 59 min\)\. Extend it with .+\nssh root@198\.51\.100\.[12] -p 22\n/);
    const vm = /Checked out (\S+)/.exec(r.stdout)![1]!;
    const [row] = await h.database.sql<{ holder: string; note: string; source: string }[]>`
      select p.name as holder, c.note, e.source from vms v join checkouts c on c.id = v.checkout_id join people p on p.id = c.person_id
      join events e on e.vm_id = v.id and e.kind = 'checked_out' where v.name = ${vm} order by e.id desc limit 1`;
    expect(row).toEqual({ holder: "alice", note: "api test", source: "api" });

    // The same shape of JSON as a direct-mode checkout.
    const viaApi = await remote(bob)(["checkout", "--json"]);
    expect(viaApi.code, summary(viaApi)).toBe(0);
    const body = JSON.parse(viaApi.stdout) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["checkoutId", "name", "ip", "sshUser", "sshPort", "pool", "startedAt", "checkedOutAt", "endsAt", "note", "bookedFrom", "cleanupBlocked"]);
    expect(body["checkedOutAt"]).toBe(body["startedAt"]);
    const back = await remote(bob)(["checkin", String(body["name"]), "--json"]);
    expect(back.code, summary(back)).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ vm: body["name"], checkoutId: body["checkoutId"], forced: false, nextState: "cleaning" });
  });

  // One test per command, each pair run at once: twenty CLI starts in one test outran its time on a loaded CI machine.
  it.each([["list"], ["status"], ["history", "vm-01"], ["checkouts"], ["checkouts", "--open", "--user", "alice"]].map((args) => ({ command: args.join(" "), args })))(
    "$command shows exactly what direct mode shows, in JSON and in words",
    async ({ args }) => {
      const [a, d] = await Promise.all([remote(admin)([...args, "--json"]), direct([...args, "--json"])]);
      expect(a.code, summary(a)).toBe(0);
      expect(d.code, summary(d)).toBe(0);
      expect(JSON.parse(a.stdout), args.join(" ")).toEqual(JSON.parse(d.stdout));
      const [at, dt] = await Promise.all([remote(admin)(args), direct(args)]);
      expect(at.code, summary(at)).toBe(0);
      expect(dt.code, summary(dt)).toBe(0);
      // The words too, but for the clock: the two runs are a moment apart (times in minutes, holds' lengths in seconds).
      const clockless = (text: string) => text.replace(/\d\d:\d\d/g, "hh:mm").replace(/\b\d+ ?(min|h|[smhd])\b/g, "n").replace(/ +/g, " ");
      expect(clockless(at.stdout), args.join(" ")).toBe(clockless(dt.stdout));
    },
    240_000,
  );

  it("list --user is the token's person: what they hold and where they wait", async () => {
    const r = await remote(alice)(["list", "--user", "alice", "--json"]);
    const d = await direct(["list", "--user", "alice", "--json"]);
    expect(r.code, summary(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(d.stdout));
    // Another person's --user: a token acts only as its person (exit 2), nothing asked of the core.
    const other = await remote(alice)(["checkin", "vm-01", "--user", "bob"]);
    expect(other.code, summary(other)).toBe(2);
    expect(other.stderr).toContain("the API token (from VMRES_URL/VMRES_TOKEN) is alice's, and a token acts only as its person");
  });

  it("refusals read as in direct mode, exit 3, and change nothing", async () => {
    const held = (await h.database.sql<{ name: string }[]>`select v.name from vms v join checkouts c on c.id = v.checkout_id join people p on p.id = c.person_id where p.name = 'alice'`)[0]!.name;
    const before = await snapshot(h.core);
    const r = await remote(bob)(["checkin", held]);
    expect(r.code, summary(r)).toBe(3);
    expect(r.stderr).toBe(`${held} is held by alice / UALICE01, not by you. An admin can take it back with --force.\n`);
    const json = await remote(bob)(["checkin", held, "--json"]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "not_holder", message: r.stderr.trimEnd(), vm: held, holder: { id: expect.any(Number), name: "alice", slackUserId: "UALICE01", displayName: null } } });
    const unknown = await remote(bob)(["history", "vm-99"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/^There is no VM "vm-99"\. \S+\/bin\/vmres\.js list shows every VM\.\n$/);
    expect(await snapshot(h.core)).toBe(before);
  });

  it("extends as the holder; an admin pins someone else's, on record", async () => {
    const held = (await h.database.sql<{ name: string }[]>`select v.name from vms v join checkouts c on c.id = v.checkout_id join people p on p.id = c.person_id where p.name = 'alice'`)[0]!.name;
    const r = await remote(alice)(["extend", held, "--by", "1h", "--json"]);
    expect(r.code, summary(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ vm: held, holder: { name: "alice" }, byAdmin: false });
    const pinned = await remote(admin)(["extend", held, "--pin"]);
    expect(pinned.code, summary(pinned)).toBe(0);
    expect(pinned.stdout).toContain(`${held} (held by alice / UALICE01, who is told) is pinned`);
    const notAdmin = await remote(bob)(["extend", held, "--pin"]);
    expect(notAdmin.code).toBe(3);
  });

  it("wait and unwait join and leave a pool's queue", async () => {
    const hold = await remote(bob)(["checkout", "--pool", "solo"]);
    expect(hold.code, summary(hold)).toBe(0);
    const joined = await remote(alice)(["wait", "--pool", "solo"]);
    expect(joined.code, summary(joined)).toBe(0);
    expect(joined.stdout).toBe('alice joined the queue of pool "solo": position 1 (next in line).\n');
    const again = await remote(alice)(["wait", "--pool", "solo"]);
    expect(again.stdout).toBe('alice is already in the queue of pool "solo": position 1 (next in line).\n');
    const left = await remote(alice)(["unwait", "--pool", "solo"]);
    expect(left.code, summary(left)).toBe(0);
    expect(left.stdout).toBe('alice left the queue of pool "solo".\n');
    const none = await remote(alice)(["unwait"]);
    expect(none.code).toBe(3);
  });

  it("checkout --wait waits in the service until a VM comes, and --timeout gives up with exit 3", async () => {
    const gaveUp = await remote(alice)(["checkout", "--pool", "solo", "--wait", "--timeout", "1s", "--json"]);
    expect(gaveUp.code, summary(gaveUp)).toBe(3);
    expect(JSON.parse(gaveUp.stdout).error.code).toBe("wait_timeout");
    expect((await h.database.sql`select 1 from waiters where pool = 'solo' and state in ('waiting', 'offered')`).length).toBe(0);

    const waiting = remote(alice)(["checkout", "--pool", "solo", "--wait", "--timeout", "90s"]);
    await expect.poll(async () => (await h.database.sql`select 1 from waiters where pool = 'solo' and state = 'waiting'`).length, { timeout: 30_000, interval: 100 }).toBe(1);
    await add("solo-02", 12, "solo");
    const got = await waiting;
    expect(got.code, summary(got)).toBe(0);
    expect(got.stdout).toMatch(/^Checked out solo-02 \(pool solo, checkout \d+\) for alice/);
  });
});

describe("the exit codes of a CLI that cannot use the API", { timeout: 180_000 }, () => {
  it("a forged token: exit 5, says what to do, nothing changed", async () => {
    const before = await snapshot(h.core);
    const r = await remote("vmres_forged0000000000000000000000000000")(["checkout"]);
    expect(r.code, summary(r)).toBe(5);
    expect(r.stderr).toContain("refused the token from VMRES_URL/VMRES_TOKEN");
    expect(await snapshot(h.core)).toBe(before);
  });

  it("no service at VMRES_URL: exit 4, retryable", async () => {
    const r = await remote(alice, { VMRES_URL: "http://127.0.0.1:9" })(["list", "--json"]);
    expect(r.code, summary(r)).toBe(4);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "api_unreachable", retryable: true });
  });

  it("a bad value is a usage error before anything is sent (exit 2, even with no service there)", async () => {
    const r = await remote(alice, { VMRES_URL: "http://127.0.0.1:9" })(["checkout", "--for", "forever"]);
    expect(r.code, summary(r)).toBe(2);
    expect(r.stderr).toContain('--for: "forever" is not a duration');
  });

  it("half the settings: exit 2 naming the missing one", async () => {
    const r = await cliFor({ env: { HOME: home, VMRES_URL: h.url } })(["list"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("VMRES_URL is set but VMRES_TOKEN is not");
  });

  it("operator commands keep using the database", async () => {
    const r = await cliFor({ databaseUrl: h.database.url, env: { HOME: home, VMRES_URL: "http://127.0.0.1:9", VMRES_TOKEN: alice } })(["people", "list", "--json"]);
    expect(r.code, summary(r)).toBe(0);
  });
});

describe("vmres login and logout", { timeout: 180_000 }, () => {
  const file = join(home, ".config", "vmres", "config.json");
  const plain = () => cliFor({ env: { HOME: home }, timeoutMs: 60_000 });

  it("checks the token, keeps it 0600, and later commands use the API from any folder", async () => {
    const bad = await plain()(["login", h.url, "--token", "vmres_wrong"]);
    expect(bad.code, summary(bad)).toBe(5);
    expect(existsSync(file)).toBe(false);

    const r = await plain()(["login", `${h.url}/`, "--token", bob]);
    expect(r.code, summary(r)).toBe(0);
    expect(r.stdout).toContain(`Logged in to ${h.url} as bob`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, ".config", "vmres")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ url: h.url, token: bob });

    const list = await plain()(["list", "--user", "bob", "--json"]);
    expect(list.code, summary(list)).toBe(0);
    expect(JSON.parse(list.stdout).map((v: { pool: string }) => v.pool)).toEqual(["solo"]);
  });

  it("refuses a kept token others may read", async () => {
    chmodSync(file, 0o644);
    const r = await plain()(["list"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`${file} holds an API token but others may read it: chmod 600`);
    chmodSync(file, 0o600);
  });

  it("works as another OS user, who cannot read the vmres folder's data", async () => {
    if (process.getuid?.() !== 0) return void console.log("skipped: needs root to run the CLI as another user");
    const nobody = { uid: Number(execFileSync("id", ["-u", "nobody"]).toString()), gid: Number(execFileSync("id", ["-g", "nobody"]).toString()) };
    const theirs = mkdtempSync(join(tmpdir(), "vmres-nobody-"));
    chmodSync(theirs, 0o777);
    try {
      const r = await cliFor({ env: { HOME: theirs, VMRES_URL: h.url, VMRES_TOKEN: bob } })(["list", "--user", "bob"], { as: nobody });
      expect(r.code, summary(r)).toBe(0);
      expect(r.stdout).toContain("solo-01");
    } finally {
      rmSync(theirs, { recursive: true, force: true });
    }
  });

  it("logout forgets it", async () => {
    const r = await plain()(["logout"]);
    expect(r.code, summary(r)).toBe(0);
    expect(existsSync(file)).toBe(false);
  });
});
