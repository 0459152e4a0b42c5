/**
 * Every setting is documented where operators look for it: docs/configuration.md, or for the
 * provisioned pools' job runner (PROVISION_*, PROVIDER_*) docs/provisioned-pools.md. A setting
 * added to the schema without its line in the docs fails here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config.js";

const ROOT = join(import.meta.dirname, "..", "..");
const doc = (file: string) => readFileSync(join(ROOT, "docs", file), "utf8");

describe("the settings' documentation", () => {
  it("names every setting of the config schema, in backquotes, where operators look for it", () => {
    const configuration = doc("configuration.md");
    const provisioned = doc("provisioned-pools.md");
    const missing = Object.keys(configSchema.shape).filter((name) => {
      const where = /^(PROVISION|PROVIDER)_/.test(name) && name !== "PROVISION_WORKER" ? provisioned : configuration;
      return !where.includes(`\`${name}\``);
    });
    expect(missing, `settings without documentation: ${missing.join(", ")}`).toEqual([]);
  });

  it("documents no setting the schema does not have", () => {
    const named = [...doc("configuration.md").matchAll(/^\| `([A-Z][A-Z0-9_]+)`/gm)].map((m) => m[1]!);
    const known = new Set(Object.keys(configSchema.shape));
    expect(named.filter((name) => !known.has(name))).toEqual([]);
  });
});
