import type { SyncReport } from "../../core/sync.js";
import { readInventoryFile } from "../../inventory/file.js";
import { outcomeOf, type Prepare } from "../command.js";
import { adminActor, fileOption, userOf } from "../values.js";

/**
 * `vmres pool sync [--file F]`: makes the database match the inventory file, all or nothing.
 * `--file` is the caller's, relative to the working folder; VMS_FILE is the installation's (see settings.ts).
 */
export const preparePoolSync: Prepare = (input, config) => {
  const actor = adminActor(input);
  // Read and checked before the database is opened: a bad file is an input error (exit 2) that touches nothing.
  const inventory = readInventoryFile(fileOption(input) ?? config.VMS_FILE, config.DEFAULT_POOL_QUOTA);
  return async ({ core }) => {
    const { syncInventory } = await import("../../core/sync.js");
    return outcomeOf(await syncInventory(core, actor, inventory), userOf(actor), describeSync);
  };
};

function describeSync(report: SyncReport): string {
  const line = (label: string, names: string[]) => `${label.padEnd(10)}${names.length}${names.length > 0 ? `  ${names.join(", ")}` : ""}`;
  return [
    line("added", report.added),
    line("updated", report.updated),
    line("pending", report.pending) + (report.pending.length > 0 ? "  (held: applied at check-in)" : ""),
    line("restored", report.restored),
    line("retired", report.retired),
    `${"unchanged".padEnd(10)}${report.unchanged}`,
  ].join("\n");
}
