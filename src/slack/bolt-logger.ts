import { LogLevel, type Logger as BoltLogger } from "@slack/bolt";
import type { Logger } from "../log.js";

/**
 * Bolt, WebClient and the Socket Mode client log through this, so their lines
 * land in the service's JSON log with the same levels. The level is the
 * service's (LOG_LEVEL): Bolt's setLevel is ignored, since Bolt calls it with
 * its own default (INFO) whenever it differs from ours.
 */
export function boltLogger(log: Logger, name = "slack"): BoltLogger {
  // `library`, not `component`: the service's log is already a child with a `component`,
  // and pino writes a repeated key twice into one JSON line.
  let child = log.child({ library: name });
  const write = (level: "debug" | "info" | "warn" | "error") => (...msg: unknown[]) => {
    const err = msg.find((m): m is Error => m instanceof Error);
    const text = msg.filter((m) => !(m instanceof Error)).map((m) => (typeof m === "string" ? m : safeJson(m))).join(" ");
    if (err) child[level]({ err }, text || err.message);
    else child[level](text);
  };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    setLevel: () => undefined,
    getLevel: () => boltLevel(child.level),
    setName: (n: string) => {
      child = log.child({ library: n });
    },
  };
}

function boltLevel(pinoLevel: string): LogLevel {
  if (pinoLevel === "trace" || pinoLevel === "debug") return LogLevel.DEBUG;
  if (pinoLevel === "info") return LogLevel.INFO;
  if (pinoLevel === "warn") return LogLevel.WARN;
  return LogLevel.ERROR;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
