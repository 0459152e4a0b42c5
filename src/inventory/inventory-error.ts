/**
 * The inventory file cannot be applied. `problems` lists every error found in
 * the file, each naming the entry and field ("pools.default.vms[1] (vm-02).ip: …"),
 * so a person fixes the file in one round instead of one error per run.
 *
 * Kept apart from the parser so that callers (the CLI's error reporting) can
 * recognise it without loading YAML and zod.
 */
export class InventoryError extends Error {
  readonly code = "inventory_invalid";

  constructor(
    /** The file's path, as given. */
    readonly source: string,
    readonly problems: string[],
    message = describeProblems(source, problems),
  ) {
    super(message);
  }
}

/** Enough to fix a file in one go, without a 200,000-line message when every entry is wrong. */
const MAX_SHOWN = 50;

function describeProblems(source: string, problems: string[]): string {
  const shown = problems.slice(0, MAX_SHOWN).map((p) => `  ${p}`);
  if (problems.length > MAX_SHOWN) shown.push(`  … and ${problems.length - MAX_SHOWN} more`);
  return `${source} has ${problems.length === 1 ? "1 error" : `${problems.length} errors`}:\n${shown.join("\n")}`;
}
