import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { vmresCommand } from "../../src/cli/invocation.js";

/** The command the CLI's hints name must run this installation, never a registry package (`npx vmres`). */
const launcher = fileURLToPath(new URL("../../bin/vmres.js", import.meta.url));
const bins = mkdtempSync(join(tmpdir(), "vmres-path-"));
afterAll(() => rmSync(bins, { recursive: true, force: true }));

it("names `vmres` when the vmres on the PATH is this installation's launcher (npm install -g . links it)", () => {
  const dir = mkdtempSync(join(bins, "global-"));
  symlinkSync(launcher, join(dir, "vmres"));
  expect(vmresCommand(`/nonexistent:${dir}`)).toBe("vmres");
});

it("names the launcher's path when vmres is not on the PATH, or is another program there", () => {
  expect(vmresCommand("/nonexistent")).toBe(launcher);
  const other = mkdtempSync(join(bins, "other-"));
  writeFileSync(join(other, "vmres"), "#!/bin/sh\necho someone else's vmres\n", { mode: 0o755 });
  expect(vmresCommand(other)).toBe(launcher);
});
