import { wantsJson } from "./args.js";
import { temporaryFailure, unexpectedFailure } from "./failures.js";
import { Reporter } from "./report.js";
import { runCli } from "./run.js";

/**
 * The CLI call itself, loaded by main.ts once the compile cache is on. In the build it is part
 * of one file with everything every call needs (parsing, help, reporting); a command's own
 * modules are loaded when it runs (see run.ts).
 */
export function start(): void {
  // `vmres list | head` closes the pipe early; that is the reader's choice, not an error to report.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
  });

  const argv = process.argv.slice(2);
  const io = { out: (text: string) => process.stdout.write(text), err: (text: string) => process.stderr.write(text) };

  // A connection reset can surface as a rejection that nothing awaits (postgres.js fetches
  // array types on a new connection without a catch): report it as any failure is reported,
  // retryable when it is one, instead of dying with a bare stack trace. The command cannot
  // finish after that, so this is the end of the process.
  process.on("unhandledRejection", (reason) => {
    process.exit(new Reporter(io, wantsJson(argv)).failure(temporaryFailure(reason) ?? unexpectedFailure(reason)));
  });

  runCli(argv, io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`vmres: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
