#!/usr/bin/env node
// Compiles src/ to dist/ (one JavaScript file per TypeScript file, same layout),
// so the bot and the CLI start without transpiling at every run. esbuild only
// strips types; `npm run typecheck` is where types are checked. dist/ is not
// emptied first: a test run building while another one runs the CLI must not
// find it missing.
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ["src/**/*.ts"],
  outdir: "dist",
  outbase: "src",
  platform: "node",
  format: "esm",
  target: "node22",
  sourcemap: true,
  logLevel: "warning",
});
