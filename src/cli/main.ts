import * as nodeModule from "node:module";

/** `vmres` (bin/vmres.js, on the PATH after `npm install -g .`): wiring only, see run.ts. */

// Node 22.1 and later can keep the compiled code of the modules a call loads, so the
// next call skips compiling them (npm does the same); Node 20 lacks it and just compiles.
// Enabled before anything else is imported, so it covers every module the CLI loads.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// `vmres list | head` closes the pipe early; that is the reader's choice, not an error to report.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
});

const [{ runCli }, { wantsJson }, { Reporter }, { temporaryFailure, unexpectedFailure }] = await Promise.all([
  import("./run.js"),
  import("./args.js"),
  import("./report.js"),
  import("./failures.js"),
]);
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
