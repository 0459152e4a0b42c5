import { syncInventory, type SyncReport } from "../../core/sync.js";
import { readInventoryFile } from "../../inventory/file.js";
import { outcomeOf, type Command } from "../command.js";
import { ADMIN_USER_OPTION, adminActor, fileOption } from "../values.js";

/** `vmres pool sync [--file F]`: makes the database match the inventory file, all or nothing. */
export const poolSyncCommand: Command = {
  words: ["pool", "sync"],
  positionals: [],
  options: {
    file: { type: "string", value: "F", help: "inventory file to apply (default: VMS_FILE, vms.yml)" },
    user: ADMIN_USER_OPTION,
  },
  summary: "Apply the inventory file: add, update, and retire VMs to match it (admin).",
  details:
    "VMs in the file but not the database are added; changed ones are updated (a held VM's\n" +
    "changes wait for its check-in); VMs no longer listed are retired (a held one at check-in).\n" +
    "A file with any error changes nothing. See vms.example.yml for the format.",
  prepare(input, config) {
    const actor = adminActor(input);
    // Read and checked before the database is opened: a bad file is an input error (exit 2) that touches nothing.
    const inventory = readInventoryFile(fileOption(input) ?? config.VMS_FILE, config.DEFAULT_POOL_QUOTA);
    return async ({ core }) => outcomeOf(await syncInventory(core, actor, inventory), actor.userId, describeSync);
  },
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
