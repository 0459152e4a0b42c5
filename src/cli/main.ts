import * as nodeModule from "node:module";

/** `vmres` (bin/vmres.js, on the PATH after `npm install -g .`): wiring only, see start.ts and run.ts. */

// Node 22.1 and later can keep the compiled code of the modules a call loads, so the
// next call skips compiling them (npm does the same); Node 20 lacks it and just compiles.
// Enabled before anything else is imported, so it covers every module the CLI loads:
// this file imports nothing else statically, and the build keeps it a file of its own.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

(await import("./start.js")).start();
