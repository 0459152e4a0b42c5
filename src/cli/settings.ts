import { accessSync, constants, existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.js";
import { EXIT, failure, type Failure } from "./failures.js";
import { INSTALL_ROOT } from "./install-root.js";
import { notAllowed } from "./permissions.js";

/**
 * The configuration as the bot has it, wherever the CLI is run from: `.env`
 * is read from the installation folder, and the relative paths of the
 * configuration (EMBEDDED_PG_DIR, default .data/postgres; VMS_FILE, default
 * vms.yml), whether they come from `.env` or the environment, are resolved
 * against it. Resolving them against the caller's folder is what made a CLI
 * run elsewhere silently create a new, empty database. Paths given on the
 * command line (`pool sync --file`) stay relative to the caller's folder.
 */
export async function loadSettings(): Promise<Config | Failure> {
  const dotenv = join(INSTALL_ROOT, ".env");
  if (existsSync(dotenv)) {
    try {
      accessSync(dotenv, constants.R_OK);
    } catch {
      return notAllowed(dotenv, (owner) => `Run vmres as ${owner} (the account that runs the bot), or let this user read ${dotenv}.`);
    }
  }
  // Loaded here, not at the top: help and usage errors need neither zod nor the configuration.
  const { ConfigError, loadConfig, withInstallPaths } = await import("../config.js");
  let config: Config;
  try {
    config = loadConfig(undefined, dotenv);
  } catch (err) {
    if (err instanceof ConfigError) return failure(EXIT.usage, err.code, err.message);
    throw err;
  }
  return withInstallPaths(config, INSTALL_ROOT);
}
