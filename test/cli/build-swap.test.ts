import { spawn } from "node:child_process";
import { appendFileSync, cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freshDatabase } from "../helpers/db.js";

/**
 * `npm start` builds before it starts, while CLI commands and other replicas may
 * be loading the compiled files from the same folder. A copy of this checkout
 * (sources and build script, node_modules linked) stands in for an installation.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const install = mkdtempSync(join(tmpdir(), "vmres-build-"));
let databaseUrl: string;

type Run = { code: number | null; stdout: string; stderr: string };
function node(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: install, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: install, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
const build = () => node(["scripts/build.js"]);

/** Every compiled file reachable through dist/ now, by its real path, with its content. */
function snapshotOfDist(): Map<string, string> {
  const files = new Map<string, string>();
  const base = realpathSync(join(install, "dist"));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(join(base, relative(base, path)), readFileSync(path, "utf8"));
    }
  };
  walk(base);
  return files;
}

beforeAll(async () => {
  for (const part of ["src", "web", "scripts", "bin", "drizzle", "package.json", "tsconfig.json"]) cpSync(join(ROOT, part), join(install, part), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(install, "node_modules"));
  const database = await freshDatabase();
  databaseUrl = database.url;
  await database.close();
  const first = await build();
  expect(first.code, first.stderr).toBe(0);
}, 120_000);
afterAll(() => rmSync(install, { recursive: true, force: true }));

it("never changes a compiled file a process may be reading: a changed source builds beside the old build, then dist/ moves over at once", async () => {
  const before = snapshotOfDist();
  appendFileSync(join(install, "src/cli/run.ts"), "\nexport const buildMark = 1;\n");
  expect((await build()).code).toBe(0);
  for (const [path, content] of before) expect(readFileSync(path, "utf8"), path).toBe(content);
  expect(readFileSync(join(install, "dist/cli/run.js"), "utf8")).toContain("buildMark = 1");
  expect(lstatSync(join(install, "dist")).isSymbolicLink()).toBe(true);
}, 120_000);

it("skips the build when the sources are unchanged", async () => {
  const target = realpathSync(join(install, "dist"));
  const mtime = lstatSync(join(target, "cli/run.js")).mtimeMs;
  expect((await build()).code).toBe(0);
  expect(realpathSync(join(install, "dist"))).toBe(target);
  expect(lstatSync(join(target, "cli/run.js")).mtimeMs).toBe(mtime);
}, 120_000);

it("runs every CLI command to its end while the service restarts and rebuilds, two replicas at a time", async () => {
  let building = true;
  const cliRuns: Run[] = [];
  const cli = (async () => {
    while (building) cliRuns.push(await node(["bin/vmres.js", "list", "--json"], { DATABASE_URL: databaseUrl }));
  })();
  try {
    for (let restart = 2; restart <= 7; restart++) {
      appendFileSync(join(install, "src/cli/run.ts"), `\nexport const buildMark${restart} = ${restart};\n`);
      // Two replicas started from one folder at once.
      const builds = await Promise.all([build(), build()]);
      for (const b of builds) expect(b.code, b.stderr).toBe(0);
    }
  } finally {
    building = false;
    await cli;
  }
  expect(cliRuns.length).toBeGreaterThan(0);
  for (const run of cliRuns) expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  expect(readFileSync(join(install, "dist/cli/run.js"), "utf8")).toContain("buildMark7 = 7");
  // Old builds are pruned: the current one and three more remain, and no temporary leftovers.
  const left = readdirSync(install).filter((e) => e.startsWith("dist"));
  expect(left.filter((e) => e.endsWith(".tmp"))).toEqual([]);
  expect(left.length).toBeLessThanOrEqual(5);
  expect(existsSync(join(install, "dist/main.js"))).toBe(true);
}, 300_000);
