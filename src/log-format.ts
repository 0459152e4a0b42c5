import type { Logger, LoggerOptions, pino as Pino } from "pino";

/** LOG_FORMAT: `json` (one JSON object a line), `pretty` (for people), `auto` (pretty when stderr is a terminal). */
export type LogFormat = "auto" | "json" | "pretty";

/** Whether logs are written for people: asked for, or `auto` with stderr on a terminal. */
export function prettyLogs(format: LogFormat, stderrIsTerminal: boolean = process.stderr.isTTY === true): boolean {
  return format === "pretty" || (format === "auto" && stderrIsTerminal);
}

/**
 * A pino logger on stderr, in the format LOG_FORMAT asks for: pino's own JSON
 * lines, or pino-pretty as a transport (pino's way: formatting runs in a worker
 * thread, and the JSON path does not even load it). Takes the pino module so
 * the CLI, which loads pino only at its first message, makes the same logger
 * as the service.
 */
export function loggerOn(pino: typeof Pino, options: LoggerOptions & { format: LogFormat }): Logger {
  const { format, ...rest } = options;
  // A silent logger writes nothing: no worker thread for it.
  if (!prettyLogs(format) || rest.level === "silent") return pino(rest, pino.destination(2));
  const transport = pino.transport({
    target: "pino-pretty",
    options: {
      destination: 2,
      // Written before the worker goes on: a process that logs and exits (a refused start) loses no line.
      sync: true,
      // Colours only for a terminal; LOG_FORMAT=pretty into a file or pipe stays plain text.
      colorize: process.stderr.isTTY === true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "hostname",
    },
  });
  return pino(rest, transport);
}
