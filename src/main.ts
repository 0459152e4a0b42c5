import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, withInstallPaths } from "./config.js";
import { createLogger } from "./log.js";
import { StartupError } from "./service/http.js";
import { logNextSteps, startService } from "./service/service.js";

/** The vmres installation folder (this file is dist/main.js or src/main.ts, one level down). */
const INSTALL_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** `npm start`: wiring only. */
async function main(): Promise<void> {
  let config;
  try {
    // `.env` and relative paths from the installation folder, as the CLI reads them (src/cli/settings.ts).
    config = withInstallPaths(loadConfig(process.env, join(INSTALL_ROOT, ".env")), INSTALL_ROOT);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vmres: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL, "vmres", config.LOG_FORMAT);
  const service = await startService(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    // A stuck part must not keep the process alive past the bound.
    setTimeout(() => {
      log.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, "shutdown took too long; exiting");
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  await logNextSteps(service);
}

main().catch((err: unknown) => {
  // A StartupError says what to fix; a stack trace would only hide that.
  const text = err instanceof StartupError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`vmres: failed to start: ${text}\n`);
  process.exit(1);
});
