#!/usr/bin/env node
// The `vmres` command: the compiled CLI (`npm ci` and `npm start` build it into dist/).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(`vmres: ${fileURLToPath(entry)} is missing; run \`npm run build\` (or \`npm ci\`) in ${fileURLToPath(new URL("..", import.meta.url))}\n`);
  process.exit(1);
}
await import(entry.href);
