import { Writable } from "node:stream";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../src/db/client.js";
import { embeddedLocation, openEmbedded, type EmbeddedServer } from "../../src/db/embedded.js";
import { testLog } from "../helpers/db.js";

/**
 * As root the embedded server runs as `postgres`. These tests play a vmres
 * installed in root's home (a 0700 folder), through openEmbedded's test seams:
 * the installation folder, and a base for the system location instead of
 * /var/lib/vmres.
 */
const notRoot = process.getuid?.() === 0 ? null : "only root hands the embedded server to the postgres user";
if (notRoot && process.env.CI === "true") throw new Error(`these tests must run as root under CI: ${notRoot}`);
if (notRoot) console.warn(`test/db/embedded-location.test.ts skipped: ${notRoot}`);

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** A home like root's (0700) holding an installation, and a reachable base for the system location. */
function closedInstallation(): { home: string; installRoot: string; systemBase: string; defaultDir: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), "vmres-roothome-")); // 0700, as /root
  const installRoot = join(home, "vmres");
  mkdirSync(installRoot);
  const base = mkdtempSync(join(tmpdir(), "vmres-varlib-"));
  chmodSync(base, 0o755); // as /var/lib
  return {
    home,
    installRoot,
    systemBase: join(base, "vmres"),
    defaultDir: join(installRoot, ".data", "postgres"),
    cleanup: () => [home, base].forEach((dir) => rmSync(dir, { recursive: true, force: true })),
  };
}

/** A logger whose lines the test can read. */
function recordingLog() {
  const lines: string[] = [];
  const log = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
  return { log, lines };
}

describe.skipIf(notRoot !== null)("as root, a vmres installed in a folder the postgres user cannot enter", () => {
  const place = closedInstallation();
  const { log, lines } = recordingLog();
  let bot: EmbeddedServer | undefined;
  let cli: EmbeddedServer | undefined;
  const open = (logger = testLog) =>
    openEmbedded(place.defaultDir, { port: 0, log: logger, installRoot: place.installRoot, systemBase: place.systemBase });

  beforeAll(async () => {
    bot = await open(log);
  }, 120_000);
  afterAll(async () => {
    await cli?.release();
    await bot?.release();
    place.cleanup();
  });

  it("starts the server with its data in the system location, says where at start, and leaves the project folder alone", () => {
    const dir = bot?.dir ?? "";
    expect(dirname(dirname(dir))).toBe(place.systemBase);
    expect(existsSync(join(dir, "pgdata", "PG_VERSION"))).toBe(true);
    expect(existsSync(join(place.installRoot, ".data"))).toBe(false);
    const said = lines.map((line) => JSON.parse(line) as { msg: string }).find((line) => line.msg.startsWith("embedded PostgreSQL data kept in"));
    expect(said?.msg).toBe(`embedded PostgreSQL data kept in ${dir}: the postgres user cannot enter ${place.home} (mode 700)`);
    // Root's folders the server passes through, named after the installation; the data folder as anywhere else.
    expect(modeOf(place.systemBase)).toBe(0o711);
    expect(modeOf(dirname(dir))).toBe(0o711);
    expect(readFileSync(join(dirname(dir), "installation"), "utf8")).toBe(`${place.installRoot}\n`);
    expect(modeOf(dir)).toBe(0o710);
  });

  it("is found again by a second open, as the CLI would open it: same server, same data", async () => {
    const sql = connect(bot?.url ?? "", { lockTimeoutMs: 1000, poolSize: 1, log: testLog }, bot?.login);
    await sql`create table if not exists left_by_the_bot (id int)`;
    await sql.end();
    cli = await open();
    expect(cli.dir).toBe(bot?.dir);
    expect(cli.port).toBe(bot?.port);
    const seen = connect(cli.url, { lockTimeoutMs: 1000, poolSize: 1, log: testLog }, cli.login);
    try {
      expect(await seen`select to_regclass('left_by_the_bot') is not null as found`).toEqual([{ found: true }]);
    } finally {
      await seen.end();
    }
  });
});

describe.skipIf(notRoot !== null)("as root, which folder holds the embedded data", () => {
  let place: ReturnType<typeof closedInstallation>;
  beforeAll(() => (place = closedInstallation()));
  afterAll(() => place.cleanup());
  const where = () => embeddedLocation(place.defaultDir, { installRoot: place.installRoot, systemBase: place.systemBase });
  /** A cluster as initdb leaves one, as far as choosing a folder is concerned. */
  const cluster = (dir: string) => (mkdirSync(join(dir, "pgdata"), { recursive: true }), writeFileSync(join(dir, "pgdata", "PG_VERSION"), "17\n"));

  it("a folder set explicitly is used as given, even where the postgres user cannot enter", () => {
    const set = join(place.home, "elsewhere");
    expect(embeddedLocation(set, { installRoot: place.installRoot, systemBase: place.systemBase })).toMatchObject({ dir: set, kind: "set" });
  });

  it("data already in the default folder wins, and start-up says how to let the server in or move the data", async () => {
    cluster(place.defaultDir);
    try {
      expect(where()).toMatchObject({ dir: place.defaultDir, kind: "default" });
      const refused = openEmbedded(place.defaultDir, { port: 0, log: testLog, installRoot: place.installRoot, systemBase: place.systemBase });
      await expect(refused).rejects.toThrow(new RegExp(`cannot enter ${place.home} .*chmod o\\+x ${place.home}.* mv ${place.defaultDir} ${place.systemBase}/`));
    } finally {
      rmSync(join(place.installRoot, ".data"), { recursive: true, force: true });
    }
  });

  it("once the folder is opened, the default folder is used, unless the system location already holds the data", () => {
    chmodSync(place.home, 0o711);
    expect(where()).toMatchObject({ dir: place.defaultDir, kind: "default" });
    const system = where().systemDir ?? "";
    cluster(system);
    expect(where()).toMatchObject({ dir: system, kind: "system", because: `its database is there and ${place.defaultDir} has none` });
  });
});
