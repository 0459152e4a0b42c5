import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbedded, type EmbeddedServer } from "../../src/db/embedded.js";
import { cliFor, copyInstallation } from "../helpers/cli.js";
import { testLog } from "../helpers/db.js";

/**
 * The CLI as an operator meets it: an installation (here a copy in a temp
 * folder, as /srv/vmres would be) with its own .env and the embedded database
 * the bot uses, and the CLI run from some other folder, or as another OS user.
 */
let install: string;
let elsewhere: string;
let vmres: ReturnType<typeof cliFor>;
let server: EmbeddedServer | undefined;
const dataDir = () => join(install, ".data/postgres");

beforeAll(() => {
  install = copyInstallation();
  writeFileSync(join(install, ".env"), "DEFAULT_POOL=lab\nSLACK_ADMINS=UENVADMIN1\n", { mode: 0o600 });
  writeFileSync(join(install, "vms.yml"), "pools:\n  lab:\n    vms:\n      - { name: lab-01, ip: 198.51.100.1 }\n      - { name: lab-02, ip: 198.51.100.2 }\n");
  // Another folder, with a .env and a vms.yml of its own that must not be read.
  elsewhere = mkdtempSync(join(tmpdir(), "vmres-elsewhere-"));
  chmodSync(elsewhere, 0o755); // another OS user runs the CLI from here too
  writeFileSync(join(elsewhere, ".env"), "DEFAULT_POOL=decoy\n");
  writeFileSync(join(elsewhere, "vms.yml"), "pools:\n  decoy:\n    vms:\n      - { name: decoy-01, ip: 198.51.100.9 }\n");
  // Creating the embedded database (initdb) takes a while on a busy machine.
  vmres = cliFor({ installation: install, cwd: elsewhere, env: { SLACK_ADMINS: "" }, timeoutMs: 300_000 });
});
afterAll(async () => {
  await server?.release();
  rmSync(elsewhere, { recursive: true, force: true });
});

// Patient: on a busy machine (busy.test.ts runs 60 CLI processes at once) one call can take long.
describe("the CLI run from another folder finds the bot's data", { timeout: 400_000 }, () => {
  it("with no database yet, exits 5 naming where it looked, and creates none (neither there nor here)", async () => {
    const r = await vmres(["status"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe(
      `vmres: there is no vmres database in ${dataDir()} (EMBEDDED_PG_DIR). Run \`${install}/bin/vmres.js db migrate\` in the vmres folder (${install}) ` +
        "to create it, or start the bot there; if the bot keeps its data elsewhere, set EMBEDDED_PG_DIR (or DATABASE_URL) as the bot has it. Nothing was created.\n",
    );
    expect(existsSync(join(install, ".data"))).toBe(false);
    expect(readdirSync(elsewhere).sort()).toEqual([".env", "vms.yml"]);
  });

  it("db migrate creates the database in the vmres folder, whatever folder it is run from", async () => {
    const r = await vmres(["db", "migrate"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Applied \d+ migrations; the database is up to date/);
    expect(existsSync(join(dataDir(), "pgdata/PG_VERSION"))).toBe(true);
    expect(readdirSync(elsewhere).sort()).toEqual([".env", "vms.yml"]);
    // From here on the bot is running, as it would be: the CLI joins its server.
    server = await openEmbedded(dataDir(), { port: 0, log: testLog });
  });

  it("reads the vmres folder's .env and vms.yml, not the working folder's, and sees what the bot sees", async () => {
    const sync = await vmres(["pool", "sync", "--json"]);
    expect(sync.code).toBe(0);
    expect(JSON.parse(sync.stdout)).toMatchObject({ added: ["lab-01", "lab-02"] });
    // DEFAULT_POOL=lab comes from the vmres folder's .env (the working folder's says decoy).
    const lent = await vmres(["checkout", "--user", "UALICE01", "--json"]);
    expect(lent.code).toBe(0);
    expect(JSON.parse(lent.stdout)).toMatchObject({ pool: "lab" });
    const fromInstall = cliFor({ installation: install, cwd: install, env: { SLACK_ADMINS: "" }, timeoutMs: 300_000 });
    const list = await fromInstall(["list", "--user", "UALICE01", "--json"]);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((v) => v.name)).toEqual([(JSON.parse(lent.stdout) as { name: string }).name]);
    expect(readdirSync(elsewhere).sort()).toEqual([".env", "vms.yml"]);
  });
});

const isRoot = process.getuid?.() === 0;
const inCi = process.env["CI"] === "true";
if (!isRoot && !inCi) process.stderr.write("installation.test.ts: running as another OS user needs root; those tests are skipped\n");

describe.skipIf(!isRoot && !inCi)("the CLI run as another OS user", { timeout: 400_000 }, () => {
  const nobody = () => ({ uid: idOf("-u"), gid: idOf("-g") });

  it("runs as root (CI runs these as root; elsewhere they are skipped with a notice)", () => {
    expect(isRoot, "these tests switch to the user nobody, which needs root").toBe(true);
  });

  it("says which file it may not read, whose it is and who it runs as, for the vmres folder's .env", async () => {
    const r = await vmres(["status", "--json"], { as: nobody() });
    expect(r.code).toBe(5);
    expect(r.stderr).toBe(
      `vmres: permission denied: ${join(install, ".env")} belongs to root (mode 0600), and you are nobody (uid 65534). ` +
        `Run vmres as root (the account that runs the bot), or let this user read ${join(install, ".env")}.\n`,
    );
    expect(JSON.parse(r.stdout)).toEqual({
      error: { code: "permission_denied", message: expect.stringContaining("permission denied"), path: join(install, ".env"), owner: "root" },
    });
  });

  it("and for the embedded database's folder, with what to do instead", async () => {
    chmodSync(join(install, ".env"), 0o644);
    const r = await vmres(["checkout", "--user", "UBOB0001"], { as: nobody() });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      new RegExp(
        `^vmres: permission denied: ${escape(dataDir())} belongs to root \\(mode 0710\\), and you are nobody \\(uid 65534\\)\\. ` +
          "Run vmres as root \\(the account that runs the bot, e\\.g\\. sudo -u root \\S+/bin/vmres\\.js …\\), or set DATABASE_URL to a PostgreSQL server this user may log in to\\.\\n$",
      ),
    );
    expect(r.stderr).not.toContain("unexpected");
  });
});

function idOf(flag: "-u" | "-g"): number {
  return Number(execFileSync("id", [flag, "nobody"], { encoding: "utf8" }).trim());
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
