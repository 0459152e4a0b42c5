import * as nodeModule from "node:module";

/** `vmres` (bin/vmres.js, or `npx vmres`): wiring only, see run.ts. */

// Node 22.1 and later can keep the compiled code of the modules a call loads, so the
// next call skips compiling them (npm does the same); Node 20 lacks it and just compiles.
// Enabled before anything else is imported, so it covers every module the CLI loads.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// `vmres list | head` closes the pipe early; that is the reader's choice, not an error to report.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
});

const { runCli } = await import("./run.js");
runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vmres: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
