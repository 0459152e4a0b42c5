#!/usr/bin/env node
// After `npm install`/`npm ci`: the fixes in patches/ must be in the dependencies they fix
// (why each: the comment in the patch).
//
// In a checkout (development, `npm ci`), patch-package applies them, as before. A package
// installed from the tarball `npm pack` makes has no devDependencies, so no patch-package:
// there every patched dependency travels in the tarball already patched (package.json's
// `bundleDependencies`). Either way this checks that each patch's first added line is in the
// file it patches, and stops the install otherwise: a vmres without them must not start.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const patches = join(root, "patches");

let patchPackage = null;
try {
  patchPackage = createRequire(join(root, "package.json")).resolve("patch-package/index.js"); // its `bin`
} catch {
  // Not installed: a tarball install (no devDependencies), or `npm ci --omit=dev`.
}
if (patchPackage !== null && existsSync(patches)) {
  const run = spawnSync(process.execPath, [patchPackage, "--error-on-fail"], { cwd: root, stdio: "inherit" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

const missing = [];
for (const name of existsSync(patches) ? readdirSync(patches).filter((f) => f.endsWith(".patch")) : []) {
  const text = readFileSync(join(patches, name), "utf8");
  // `+++ b/node_modules/postgres/src/connection.js` then its hunks: the first added line of each file.
  for (const [, file, body] of text.matchAll(/^\+\+\+ b\/(\S+)\n([\s\S]*?)(?=^diff |(?![\s\S]))/gm)) {
    const added = /^\+(?!\+\+)(.*\S.*)$/m.exec(body)?.[1];
    const path = join(root, file);
    if (added !== undefined && !(existsSync(path) && readFileSync(path, "utf8").includes(added))) missing.push(`${file} (${name})`);
  }
}
if (missing.length > 0) {
  process.stderr.write(
    `vmres: the fixes in patches/ are not applied to ${missing.join(", ")}.\n` +
      (patchPackage === null
        ? "patch-package (a devDependency) is not installed here: install with dev dependencies (npm ci), or run npx patch-package in this folder.\n"
        : "patch-package ran but the files still differ: see its output above.\n"),
  );
  process.exit(1);
}
