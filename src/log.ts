import { pino, type Logger } from "pino";
import { loggerOn, type LogFormat } from "./log-format.js";

export type { Logger };
export type { LogFormat };

/**
 * One logger per process, to stderr so CLI output on stdout stays clean: JSON
 * lines, or human-readable lines when stderr is a terminal (LOG_FORMAT).
 */
export function createLogger(level: string, name = "vmres", format: LogFormat = "auto"): Logger {
  return loggerOn(pino, { name, level, format });
}
