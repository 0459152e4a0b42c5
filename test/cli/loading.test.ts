import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addVm } from "../../src/core/admin.js";
import { cliFor } from "../helpers/cli.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

/**
 * A CLI call costs what it loads: every module is resolved, read, compiled and
 * linked before the command runs, and the whole set made every call take
 * seconds. These tests record what a call loads (ESM through a loader hook,
 * CommonJS from require.cache at exit) and hold each command to what it needs.
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
let vmres: ReturnType<typeof cliFor>;
let probe: string;

beforeAll(async () => {
  database = await freshDatabase();
  const added = await addVm(coreFor(database), { person: "operator", source: "cli" }, { name: "vm-01", ip: "198.51.100.1", pool: "default", sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
  expect(added.ok).toBe(true);
  vmres = cliFor({ databaseUrl: database.url });
  probe = mkdtempSync(join(tmpdir(), "vmres-loading-"));
  writeFileSync(
    join(probe, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
     export async function load(url, context, next) { appendFileSync(process.env.MODULE_LOG, url + "\\n"); return next(url, context); }`,
  );
  writeFileSync(join(probe, "register.mjs"), `import { register } from "node:module"; register("./hooks.mjs", import.meta.url);`);
  writeFileSync(
    join(probe, "cjs.cjs"),
    // Node's own modules too (process.moduleLoadList), as "node:<name>": what a call asks of Node counts as well.
    `process.on("exit", () => require("node:fs").appendFileSync(process.env.MODULE_LOG, [...Object.keys(require.cache), ...process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => "node:" + m.slice(13))].join("\\n") + "\\n"));`,
  );
});
afterAll(async () => {
  await database.close();
  rmSync(probe, { recursive: true, force: true });
});

/**
 * The packages (node_modules/<name>) and vmres modules (src/… without .ts) one call loads, and the
 * vmres files it read. The CLI is a bundle (scripts/build.js): a file of it, dist/cli/main.js or a
 * chunk beside it, stands for the sources esbuild put into it, which its metafile lists.
 */
async function loadedBy(args: string[]): Promise<{ code: number | null; loaded: string[]; files: string[] }> {
  const log = join(probe, `modules-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, "");
  const r = await vmres(args, {
    env: { MODULE_LOG: log, NODE_OPTIONS: `--require ${join(probe, "cjs.cjs")} --import ${join(probe, "register.mjs")}` },
  });
  const paths = readFileSync(log, "utf8")
    .split("\n")
    .map((line) => line.replace(/^file:\/\//, ""));
  const files = [...new Set(paths.filter((path) => /\/dist[^/]*\/.+\.js$/.test(path) && !path.includes("node_modules")))].sort();
  const names = paths.flatMap((path) => {
    if (path.startsWith("node:")) return [path];
    const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
    if (pkg) return [pkg];
    const bundled = path.match(/\/dist[^/]*\/cli\/((?:chunk-\w+)|main)\.js$/);
    if (bundled) return sourcesOf(dirname(path), `cli/${bundled[1]}.js`);
    return [path.match(/\/dist[^/]*\/(.+)\.js$/)?.[1] ?? ""];
  });
  return { code: r.code, loaded: [...new Set(names.filter(Boolean))].sort(), files };
}

/** The sources (as "db/client", a package by its name) esbuild put into one file of the CLI bundle in folder `cli`, from the bundle's metafile. */
function sourcesOf(cli: string, file: string): string[] {
  const meta = JSON.parse(readFileSync(join(cli, "main.meta.json"), "utf8")) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
  const output = Object.entries(meta.outputs).find(([path]) => path.endsWith(`/${file}`));
  if (!output) throw new Error(`${file} is not in ${cli}/main.meta.json`);
  return Object.keys(output[1].inputs).map((input) => input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? input.replace(/^src\//, "").replace(/\.ts$/, ""));
}

const DATABASE = ["drizzle-orm", "postgres", "db/client", "db/schema", "core/queries"];
/** What a postgres.js-only command (src/cli/commands/index.ts, `sqlOnly`) must not load. */
const DRIZZLE = ["drizzle-orm", "db/client", "db/schema", "core/queries"];
// node-cron is left out: src/config.ts imports it to check RECONCILE_CRON, so every configured call loads it.
/** What a call on DATABASE_URL without sslmode does not need: Node's TLS, the embedded server's code and its child_process. */
const NOT_ON_A_URL = ["node:tls", "node:_tls_wrap", "node:child_process", "db/embedded"];
const ELSEWHERE = ["pino", "yaml", "@slack/bolt", "ssh2", "prom-client", "inventory/file", "slack/app", "service/service", "cleanup/worker"];

describe("a call loads only what its command needs", () => {
  it("the CLI is one bundle: --help reads its entry and chunks of the bundle, no file compiled per source module", async () => {
    const { code, files } = await loadedBy(["--help"]);
    expect(code).toBe(0);
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((path) => !/\/dist[^/]*\/cli\/(chunk-\w+|main)\.js$/.test(path))).toEqual([]);
  });

  it("--help loads no configuration, database driver, logger or YAML", async () => {
    const { code, loaded } = await loadedBy(["pool", "add", "--help"]);
    expect(code).toBe(0);
    expect(loaded).toContain("cli/commands/index");
    expect(loaded.filter((m) => [...DATABASE, ...ELSEWHERE, "zod", "config", "node-cron"].includes(m))).toEqual([]);
  });

  it("a mistyped value loads no database driver: it is refused before the command's run is loaded", async () => {
    const { code, loaded } = await loadedBy(["checkin", "vm 01", "--user", "UALICE01"]);
    expect(code).toBe(2);
    expect(loaded.filter((m) => [...DATABASE, ...ELSEWHERE].includes(m))).toEqual([]);
  });

  it("status and list reach the database through postgres.js alone: no drizzle-orm, no schema tables, nor the logger, YAML, the scheduler, Slack or SSH", async () => {
    for (const args of [["status"], ["list"], ["list", "--user", "operator"]]) {
      const { code, loaded } = await loadedBy(args);
      expect(code).toBe(0);
      expect(loaded).toEqual(expect.arrayContaining(["postgres", "db/connect", "core/vm-listings"]));
      expect(loaded.filter((m) => [...DRIZZLE, ...ELSEWHERE].includes(m))).toEqual([]);
    }
  });

  it("a call on DATABASE_URL loads neither Node's TLS nor child_process, nor the embedded server's code", async () => {
    for (const args of [["status"], ["list"]]) {
      const { code, loaded } = await loadedBy(args);
      expect(code).toBe(0);
      expect(loaded).toContain("node:net");
      expect(loaded.filter((m) => NOT_ON_A_URL.includes(m))).toEqual([]);
    }
  });

  it("checkin loads nothing of drizzle-orm: it writes through postgres.js", async () => {
    const { code, loaded } = await loadedBy(["checkin", "vm-01", "--user", "UALICE01"]);
    // Refused (nobody called UALICE01 holds it): the whole check-in ran, up to its answer.
    expect(code).toBe(3);
    expect(loaded).toEqual(expect.arrayContaining(["postgres", "core/checkin"]));
    expect(loaded.filter((m) => [...DRIZZLE, ...ELSEWHERE, ...NOT_ON_A_URL].includes(m))).toEqual([]);
  });

  it("checkout lends a VM, and is refused one, loading nothing of drizzle-orm, the schema's tables, the logger, Slack, SSH or TLS", async () => {
    const lent = await loadedBy(["checkout", "--user", "UALICE01"]);
    expect(lent.code).toBe(0);
    // The quota is 1: a second checkout is refused, with the VM held named (an array read from PostgreSQL).
    const refused = await loadedBy(["checkout", "--user", "UALICE01"]);
    expect(refused.code).toBe(3);
    for (const { loaded } of [lent, refused]) {
      expect(loaded).toEqual(expect.arrayContaining(["postgres", "core/checkout", "core/provision/request"]));
      expect(loaded.filter((m) => [...DRIZZLE, ...ELSEWHERE, ...NOT_ON_A_URL].includes(m))).toEqual([]);
    }
    expect((await vmres(["checkin", "vm-01", "--user", "UALICE01"])).code).toBe(0);
  });

  it("a command that uses drizzle still gets it: checkouts loads drizzle-orm and the schema", async () => {
    const { code, loaded } = await loadedBy(["checkouts"]);
    expect(code).toBe(0);
    expect(loaded).toEqual(expect.arrayContaining(DATABASE));
  });
});

describe("the lease commands load only what they need", () => {
  it("a bad duration loads no database driver: extend --by 0m and checkout --wait --timeout x are refused first", async () => {
    for (const args of [["extend", "vm-01", "--user", "UALICE01", "--by", "0m"], ["checkout", "--user", "UALICE01", "--wait", "--timeout", "x"]]) {
      const { code, loaded } = await loadedBy(args);
      expect(code).toBe(2);
      expect(loaded.filter((m) => [...DATABASE, ...ELSEWHERE].includes(m))).toEqual([]);
    }
  });

  it("wait loads the database and the waitlist, and not the logger, YAML, Slack or SSH", async () => {
    const { code, loaded } = await loadedBy(["wait", "--user", "UALICE01"]);
    expect(code).toBe(0);
    expect(loaded).toEqual(expect.arrayContaining(["postgres", "core/waitlist"]));
    expect(loaded.filter((m) => ELSEWHERE.includes(m))).toEqual([]);
  });
});
