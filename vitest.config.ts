import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // One embedded PostgreSQL serves the whole run; files get their own database.
    pool: "forks",
    maxWorkers: 2,
    // Files of one worker share its module cache: each file imported the whole of src again,
    // 150 s of a 466 s run on the 2-core machine (11 s without; the run took 330 s, all passing).
    // So a test file must not lean on module state another file may have left: each makes its own
    // database, harness and settings (docs/development.md, "Keeping the suite fast").
    isolate: false,
    testTimeout: 60_000,
    // expect.poll waits on a condition (a page showing a change, a row committed): 1 s, vitest's
    // default, is less than a loaded 2-core machine sometimes takes to draw a page; the wait still
    // ends as soon as the condition holds.
    expect: { poll: { timeout: 20_000 } },
    hookTimeout: 120_000,
  },
});
