import { realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import { INSTALL_ROOT } from "./install-root.js";

let cached: string | undefined;

/**
 * The command that runs this installation's CLI, for the hints the CLI prints:
 * `vmres` when that name on the PATH is this very bin/vmres.js (`npm install -g .`
 * or `npm link` put it there), else the path of bin/vmres.js. Never `npx vmres`:
 * outside the vmres folder npx fetches a package of that name from the registry
 * and runs it, without asking when there is no terminal.
 */
export function vmresCommand(path: string | undefined = process.env["PATH"]): string {
  if (cached !== undefined && path === process.env["PATH"]) return cached;
  const launcher = join(INSTALL_ROOT, "bin", "vmres.js");
  const found = onPath(launcher, path) ? "vmres" : /[^\w@%+=:,./-]/.test(launcher) ? `'${launcher.replaceAll("'", `'\\''`)}'` : launcher;
  if (path === process.env["PATH"]) cached = found;
  return found;
}

/** Whether the first `vmres` on the PATH resolves to `launcher` itself. */
function onPath(launcher: string, path: string | undefined): boolean {
  let self: string;
  try {
    self = realpathSync(launcher);
  } catch {
    return false;
  }
  for (const dir of (path ?? "").split(delimiter).filter(Boolean)) {
    try {
      return realpathSync(join(dir, "vmres")) === self;
    } catch {
      // No vmres in this folder: look in the next one.
    }
  }
  return false;
}
