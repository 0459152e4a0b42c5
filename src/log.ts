import { pino, type Logger } from "pino";

export type { Logger };

/** One JSON logger per process, to stderr so CLI output on stdout stays clean. */
export function createLogger(level: string, name = "vmres"): Logger {
  return pino({ name, level }, pino.destination(2));
}
