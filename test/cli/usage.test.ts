import { readFileSync } from "node:fs";
import { join } from "node:path";
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

describe("a mistake on the command line exits 2 with the line that was wrong and where to read on, and changes nothing", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown command", ["frobnicate"], /^vmres: unknown command "frobnicate"\n\S+ help lists every command\.\n$/],
    ["a mistyped command", ["chekout", "--user", "alice"], /^vmres: unknown command "chekout"\. Did you mean `\S+ checkout`\?\n\S+ help lists every command\.\n$/],
    ["a mistyped group word", ["pol", "drain", "vm-01"], /^vmres: unknown command "pol"\. Did you mean `\S+ pool drain`\?\n/],
    ["a mistyped subcommand", ["pool", "drian", "vm-01"], /^vmres: unknown pool command "drian"\. Did you mean `\S+ pool drain`\?\n\S+ help pool lists its commands\.\n$/],
    ["a mistyped help topic", ["help", "chekout"], /^vmres: no help on "chekout": it is not a vmres command\. Did you mean `\S+ help checkout`\?\n/],
    ["a checkout without --user", ["checkout"], /^vmres: --user ID is required.*\nUsage: vmres checkout --user ID \[--pool P\].*\n\S+ help checkout shows its options and examples\.\n$/],
    ["a port that is not a number", ["pool", "add", "vm-09", "198.51.100.9", "--ssh-port", "22x"], /--ssh-port: "22x" is not a TCP port.*\nUsage: vmres pool add NAME IP/],
    ["an IP address out of range", ["pool", "add", "vm-09", "999.1.1.1"], /IP: "999\.1\.1\.1" is not an IPv4 or IPv6 address/],
    ["a VM name with a space", ["pool", "add", "vm 09", "198.51.100.9"], /NAME: "vm 09" is not a VM name/],
    ["a VM name carrying SQL", ["checkin", "vm-01'; drop table vms; --", "--user", "UALICE01"], /VM: "vm-01'; drop table vms; --" is not a VM name/],
    ["an unknown option", ["status", "--colour"], /^vmres: Unknown option '--colour'\. vmres status takes --json, --insecure, --help\.\nUsage: vmres status\n\S+ help status shows its options and examples\.\n$/],
    ["a mistyped option", ["checkout", "--user", "alice", "--pol", "gpu"], /^vmres: Unknown option '--pol'\. Did you mean `--pool`\? vmres checkout takes /],
  ];

  it.each(cases)("%s", async (_, args, message) => {
    const r = await vmres(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    // The line that was wrong stays in sight: no command listing, no option table.
    expect(r.stderr).not.toContain("Commands:");
    expect(r.stderr).not.toContain("Options:");
    expect(r.stderr.split("\n").length).toBeLessThanOrEqual(4);
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
    expect(r.stderr).toBe('vmres: invalid configuration:\n  DEFAULT_POOL_QUOTA must be a number of VMs from 1 to 1,000, not "lots".\n');
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

describe("--version and --json", () => {
  it("vmres --version and vmres version print the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(vmres.installation, "package.json"), "utf8")) as { version: string };
    for (const args of [["--version"], ["version"]]) {
      const r = await vmres(args, { viaLauncher: true });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
      expect(r.stderr).toBe("");
    }
    expect(JSON.parse((await vmres(["version", "--json"])).stdout)).toEqual({ version });
  });

  it("a refusal with --json carries the words stderr shows, beside its code and facts", async () => {
    const r = await vmres(["pool", "drain", "vm-01", "--json"]);
    expect(r.code).toBe(3);
    const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string; vm: string } };
    expect(error.code).toBe("wrong_state");
    expect(error.vm).toBe("vm-01");
    expect(`${error.message}\n`).toBe(r.stderr);
  });

  it("a usage error with --json is an error object with code and message on stdout, and the pointer on stderr only", async () => {
    const r = await vmres(["chekout", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: "usage", message: expect.stringMatching(/^unknown command "chekout"\. Did you mean `\S+ checkout`\?$/) } });
  });
});
