import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { checkout } from "../../src/core/checkout.js";
import { cliFor, databaseSnapshot } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
let vmres: ReturnType<typeof cliFor>;
let snapshot: string;

beforeAll(async () => {
  database = await freshDatabase();
  const core = coreFor(database);
  const added = await addVm(core, { person: "operator", source: "cli" }, { name: "vm-01", ip: "198.51.100.1", pool: "default", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
  expect(added.ok).toBe(true);
  expect((await checkout(core, { person: { slackUserId: "UALICE01" }, source: "cli" })).ok).toBe(true);
  vmres = cliFor({ databaseUrl: database.url });
  snapshot = await databaseSnapshot(database.sql);
});
afterAll(async () => database.close());

describe("a mistake on the command line exits 2 with help on stderr and changes nothing", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown command", ["frobnicate"], /^vmres: unknown command "frobnicate"\n\nUsage: vmres <command>/],
    ["a checkout without --user", ["checkout"], /^vmres: --user ID is required.*\n\nUsage: vmres checkout --user ID \[--pool P\]/],
    ["a port that is not a number", ["pool", "add", "vm-09", "198.51.100.9", "--ssh-port", "22x"], /--ssh-port: "22x" is not a TCP port/],
    ["an IP address out of range", ["pool", "add", "vm-09", "999.1.1.1"], /IP: "999\.1\.1\.1" is not an IPv4 or IPv6 address/],
    ["a VM name with a space", ["pool", "add", "vm 09", "198.51.100.9"], /NAME: "vm 09" is not a VM name/],
    ["a VM name carrying SQL", ["checkin", "vm-01'; drop table vms; --", "--user", "UALICE01"], /VM: "vm-01'; drop table vms; --" is not a VM name/],
    ["an unknown option", ["status", "--colour"], /^vmres: Unknown option '--colour'/],
  ];

  it.each(cases)("%s", async (_, args, message) => {
    const r = await vmres(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Usage: vmres");
    expect(r.stdout).toBe("");
    expect(await databaseSnapshot(database.sql)).toBe(snapshot);
  });

  it("a 10 kB argument is refused with a message of ordinary length", async () => {
    const r = await vmres(["pool", "drain", "x".repeat(10_000), "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/NAME: "x{40}…" is not a VM name/);
    expect(r.stderr.length).toBeLessThan(3000);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: "usage", message: expect.stringMatching(/^NAME: "x{40}…" is not a VM name/) } });
    expect(await databaseSnapshot(database.sql)).toBe(snapshot);
  });

  it("a bad setting names the variable and exits 2", async () => {
    const r = await vmres(["status"], { env: { DEFAULT_POOL_QUOTA: "lots" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid configuration:\n\s+DEFAULT_POOL_QUOTA \("lots"\)/);
  });
});

describe("--help", () => {
  it("through the bin/vmres.js launcher, shows a command's usage and options on stdout and exits 0", async () => {
    const r = await vmres(["pool", "add", "--help"], { viaLauncher: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^Usage: vmres pool add NAME IP \[--pool P\] \[--ssh-user U\] \[--ssh-port N\] \[--host-key FP\] \[--tag T \.\.\.\]/);
    for (const option of ["--pool P", "--ssh-user U", "--ssh-port N", "--host-key FP", "--tag T", "--user ID", "--json", "-h, --help"]) {
      expect(r.stdout).toContain(`  ${option} `);
    }
  });
});
