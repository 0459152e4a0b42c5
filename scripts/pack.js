#!/usr/bin/env node
// The `prepare` and `postpack` scripts (package.json): the build, and the build in a tarball.
//
// A tarball must carry the compiled code: `npm install -g ./vmres-x.tgz` runs no `prepare`
// of the package, and installs no devDependencies (esbuild), so nothing could build it there.
// But here `dist` is a symbolic link to the current build (scripts/build.js), and npm packs no
// symbolic links: with the link in place the tarball would have no dist/ and the installed
// `vmres` would only say so.
//
//   node scripts/pack.js prepare   builds (unchanged sources: nothing to do); under `npm pack`
//                                  or `npm publish` (npm_command), then puts a real copy of
//                                  the build at `dist` for npm to pack. npm runs `prepare`
//                                  after `prepack`, right before packing, so it is done here;
//   node scripts/pack.js postpack  puts the link back (scripts/build.js moves a real dist/
//                                  aside as dist-old-<its pid> and links the build again),
//                                  and removes that copy.
//
// Between the two, `dist` holds the same files the link pointed at, so a vmres started from
// this folder meanwhile runs the same build. It is absent only between two rename(2) calls.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, readlinkSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const build = () => execFileSync(process.execPath, [join(root, "scripts/build.js")], { stdio: "inherit" });

const step = process.argv[2];
if (step === "prepare") {
  build();
  if (!["pack", "publish"].includes(process.env["npm_command"] ?? "")) process.exit(0);
  const current = readlinkSync(dist);
  const copy = join(root, `dist.${process.pid}.tmp`);
  rmSync(copy, { recursive: true, force: true });
  cpSync(join(root, current), copy, { recursive: true });
  const link = join(root, `dist-link.${process.pid}.tmp`);
  renameSync(dist, link);
  renameSync(copy, dist);
  rmSync(link);
} else if (step === "postpack") {
  const relink = spawnSync(process.execPath, [join(root, "scripts/build.js")], { stdio: "inherit" });
  if (relink.status !== 0) process.exit(relink.status ?? 1);
  rmSync(join(root, `dist-old-${relink.pid}`), { recursive: true, force: true });
} else {
  process.stderr.write("usage: node scripts/pack.js prepare|postpack (npm runs it as those scripts)\n");
  process.exit(2);
}
