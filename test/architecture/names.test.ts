import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as names from "../../src/core/names.js";

/**
 * The patterns of names are written once, in src/core/names.ts (issue 19 item 6): the database's
 * CHECK constraints, as the migrations and drizzle's snapshot hold them, cite the same text, and
 * no other source writes a pattern of its own.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Each `*_format` constraint on a name, and the pattern of names.ts it must hold. */
const CHECKS: Record<string, string> = {
  pools_name_format: names.NAME_PATTERN,
  vms_name_format: names.NAME_PATTERN,
  instances_name_format: names.NAME_PATTERN,
  reservations_label_format: names.NAME_PATTERN,
  images_name_format: names.IMAGE_NAME_PATTERN,
  people_name_format: names.PERSON_NAME_PATTERN,
  people_slack_user_id_format: names.SLACK_USER_ID_PATTERN,
  vms_ssh_user_format: names.SSH_USER_PATTERN,
  vms_host_key_format: names.FINGERPRINT_PATTERN,
};

const PATTERNS = Object.entries(names).filter(([key, value]) => key.endsWith("_PATTERN") && typeof value === "string") as [string, string][];

/** The pattern (`~ '…'`) of each constraint as the migrations leave it: the last migration that writes it wins. */
function checksInMigrations(): Map<string, string> {
  const found = new Map<string, string>();
  const files = readdirSync(join(root, "drizzle")).filter((f) => f.endsWith(".sql")).sort();
  for (const file of files) {
    for (const m of readFileSync(join(root, "drizzle", file), "utf8").matchAll(/CONSTRAINT "(\w+)" CHECK \((.*)\)/g)) {
      const pattern = /~ '([^']*)'/.exec(m[2]!)?.[1];
      if (pattern !== undefined) found.set(m[1]!, pattern);
    }
  }
  return found;
}

/** The same from drizzle's latest snapshot, which is what src/db/schema.ts generates (drizzle-kit says "no changes" otherwise). */
function checksInSnapshot(): Map<string, string> {
  const meta = join(root, "drizzle", "meta");
  const latest = readdirSync(meta).filter((f) => f.endsWith("_snapshot.json")).sort().at(-1)!;
  const snapshot = JSON.parse(readFileSync(join(meta, latest), "utf8")) as { tables: Record<string, { checkConstraints?: Record<string, { value: string }> }> };
  const found = new Map<string, string>();
  for (const table of Object.values(snapshot.tables)) {
    for (const [name, c] of Object.entries(table.checkConstraints ?? {})) {
      const pattern = /~ '([^']*)'/.exec(c.value)?.[1];
      if (pattern !== undefined) found.set(name, pattern);
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(path) ? [path] : [];
  });
}

describe("the patterns of names", () => {
  it("are the ones the database's CHECK constraints hold, in the migrations and in the schema", () => {
    const migrations = checksInMigrations();
    const snapshot = checksInSnapshot();
    for (const [constraint, pattern] of Object.entries(CHECKS)) {
      expect(migrations.get(constraint), `${constraint} in drizzle/*.sql`).toBe(pattern);
      expect(snapshot.get(constraint), `${constraint} in drizzle's snapshot`).toBe(pattern);
    }
  });

  it("are written nowhere in src/ but src/core/names.ts", () => {
    // A pattern's body, as a regex literal (/^…$/) or a string, outside names.ts.
    const bodies = PATTERNS.map(([key, text]) => ({ key, body: text.slice(1, -1) }));
    expect(bodies.length).toBeGreaterThanOrEqual(6);
    const stray = sourceFiles(join(root, "src"))
      .filter((f) => relative(root, f) !== "src/core/names.ts")
      .flatMap((f) => {
        const text = readFileSync(f, "utf8");
        return bodies.filter(({ body }) => text.includes(body)).map(({ key }) => `${relative(root, f)} writes ${key} again: import it from src/core/names.ts`);
      });
    expect(stray).toEqual([]);
  });

  it("accept and refuse names at their edges as the messages say", () => {
    expect(names.NAME.test("a")).toBe(true);
    expect(names.NAME.test("gpu-1.large")).toBe(true);
    expect(names.NAME.test("x".repeat(63))).toBe(true);
    expect(names.NAME.test("x".repeat(64))).toBe(false);
    expect(names.NAME.test("-a")).toBe(false);
    expect(names.NAME.test("Gpu")).toBe(false);
    expect(names.IMAGE_NAME.test("x".repeat(128))).toBe(true);
    expect(names.IMAGE_NAME.test("x".repeat(129))).toBe(false);
    expect(names.PERSON_NAME.test("Alice_B.c-d")).toBe(true);
    expect(names.SLACK_USER_ID.test("U012ABCDEF")).toBe(true);
    expect(names.SSH_USER.test("_apt")).toBe(true);
    expect(names.FINGERPRINT.test(`SHA256:${"a".repeat(43)}`)).toBe(true);
  });
});
