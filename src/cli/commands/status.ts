import type { PoolSummary } from "../../core/queries.js";
import type { VmSummary } from "../../core/types.js";
import { done, type Prepare } from "../command.js";
import { table, when } from "../table.js";

/** `vmres status`: per pool, how many VMs are in each state, and which cleanups need a person. */
export const prepareStatus: Prepare = () => async ({ core }) => {
  const { allVms, poolSummary } = await import("../../core/queries.js");
  const pools = await poolSummary(core.db);
  const quarantined = await allVms(core, { person: "operator", source: "cli" }, { states: ["quarantined"] });
  return done({ pools, quarantined }, describeStatus(pools, quarantined));
};

function describeStatus(pools: PoolSummary[], quarantined: VmSummary[]): string {
  if (pools.length === 0) return "No pools yet: add VMs with npx vmres pool add or npx vmres pool sync.";
  const lines = [
    table(
      ["POOL", "QUOTA", "TOTAL", "AVAILABLE", "CHECKED OUT", "CLEANING", "QUARANTINED", "MAINTENANCE", "RETIRED"],
      pools.map((p) => [
        p.pool,
        String(p.quota),
        String(p.total),
        ...[p.counts.available, p.counts.checked_out, p.counts.cleaning, p.counts.quarantined, p.counts.maintenance, p.counts.retired].map(String),
      ]),
    ),
  ];
  if (quarantined.length > 0) {
    lines.push(
      "",
      "Quarantined (cleanup failed; fix the VM, then npx vmres cleanup retry VM or npx vmres pool repair VM):",
      table(
        ["NAME", "POOL", "SINCE", "LAST ERROR"],
        quarantined.map((v) => [v.name, v.pool, when(v.stateChangedAt), v.cleanupLastError ?? "-"]),
      ),
    );
  }
  return lines.join("\n");
}
