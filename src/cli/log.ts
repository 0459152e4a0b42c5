import { createRequire } from "node:module";
import type { Logger } from "../log.js";
import { loggerOn, type LogFormat } from "../log-format.js";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
const noop = () => {};

/**
 * The CLI's logger, created on first use. Loading pino costs a CLI call tens of
 * milliseconds, and at the CLI's default level (warn) a call that goes well
 * logs nothing: a message below the level is dropped without loading it, and
 * anything else gets the real logger, made as src/log.ts makes the service's
 * (on stderr, JSON or for people as LOG_FORMAT says). pino is CommonJS, so it can be required synchronously
 * at the first message.
 */
export function lazyLogger(level: string, name: string, format: LogFormat = "auto"): Logger {
  let real: Logger | undefined;
  const threshold = level === "silent" ? LEVELS.length : LEVELS.indexOf(level);
  const load = (): Logger => {
    if (!real) {
      const { pino } = createRequire(import.meta.url)("pino") as typeof import("pino");
      real = loggerOn(pino, { name, level, format });
    }
    return real;
  };
  // Only the level methods are answered without pino; any other use (child, level, …) gets the real thing.
  return new Proxy({} as Logger, {
    get(_target, property) {
      const rank = typeof property === "string" ? LEVELS.indexOf(property) : -1;
      if (rank >= 0 && rank < threshold && !real) return noop;
      const logger = load();
      const value: unknown = Reflect.get(logger, property);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
    },
  });
}
