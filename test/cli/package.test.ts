import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The CLI installed as a tool, the way docs/cli.md says: `npm pack` in a clone makes a
 * tarball, `npm install -g` puts it in a prefix, and `vmres` runs from that prefix's bin/
 * with nothing of the clone around. npm reads the machine's cache first (--prefer-offline)
 * and asks the registry only for what the cache lacks. Nothing here is skipped.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const run = promisify(execFile);

let work: string;
let clone: string;
let prefix: string;
let tarball: string;
/** npm and node on the PATH: the node running the tests (npm's launcher runs `env node`), and no npm_* settings of an `npm test` around us. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "vmres-package-"));
  clone = join(work, "clone");
  prefix = join(work, "prefix");
  env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")));
  env["PATH"] = [dirname(process.execPath), process.env["PATH"] ?? "/usr/bin:/bin"].join(delimiter);
  // What a clone has: the tracked files and new ones not ignored, with this checkout's node_modules.
  const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  for (const file of stdout.split("\0").filter(Boolean)) {
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    cpSync(join(ROOT, file), join(clone, file), { dereference: false, errorOnExist: false, force: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"));
  await run("npm", ["pack", "--pack-destination", work], { cwd: clone, env, maxBuffer: 16 * 1024 * 1024 });
  tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz")) ?? "no tarball made");
  await run("npm", ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: work, env, maxBuffer: 16 * 1024 * 1024 });
}, 600_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the tarball npm pack makes, installed with npm install -g", { timeout: 120_000 }, () => {
  it("puts a vmres on the prefix's bin that prints the package's version", async () => {
    const { stdout, stderr } = await run(join(prefix, "bin", "vmres"), ["--version"], { cwd: work, env });
    expect(stdout).toBe(`${VERSION}\n`);
    expect(stderr).toBe("");
  });

  it("leaves the clone's dist a link to its build, as before npm pack", async () => {
    const { stdout } = await run("find", [clone, "-maxdepth", "1", "-name", "dist*", "-printf", "%f %y\\n"]);
    expect(stdout.trim().split("\n").sort()).toEqual([expect.stringMatching(/^dist l$/), expect.stringMatching(/^dist-[0-9a-f]{16} d$/)]);
  });

  it("prints hints with `vmres` when the prefix's bin is on the PATH, and the launcher's path when not", async () => {
    const onPath = await run(join(prefix, "bin", "vmres"), ["help"], { cwd: work, env: { ...env, PATH: `${join(prefix, "bin")}${delimiter}${env["PATH"]}` } });
    expect(onPath.stdout).toContain("\nvmres help COMMAND (or vmres COMMAND --help)");
    const offPath = await run(join(prefix, "bin", "vmres"), ["help"], { cwd: work, env });
    expect(offPath.stdout).toContain(`\n${join(prefix, "lib", "node_modules", "vmres", "bin", "vmres.js")} help COMMAND`);
  });

  it("lets another project import vmres/client", async () => {
    const project = join(work, "project");
    mkdirSync(join(project, "node_modules"), { recursive: true });
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
    symlinkSync(join(prefix, "lib", "node_modules", "vmres"), join(project, "node_modules", "vmres"));
    writeFileSync(join(project, "main.js"), 'import { createClient } from "vmres/client";\nconsole.log(typeof createClient, typeof createClient({ baseUrl: "https://vmres.example.com", token: "t" }).GET);\n');
    const { stdout } = await run(process.execPath, ["main.js"], { cwd: project, env });
    expect(stdout).toBe("function function\n");
  });
});
