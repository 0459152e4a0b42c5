#!/usr/bin/env node
// The `vmres` command. It runs the TypeScript entry directly through tsx's loader,
// as `npm start` does, so there is no build step whose output could go stale.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
