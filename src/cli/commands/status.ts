import { queueLengths } from "../../core/queue-places.js";
import { allVms, poolSummary, type PoolSummary } from "../../core/vm-listings.js";
import type { VmSummary } from "../../core/types.js";
import { personText } from "../../core/people.js";
import { done, type Prepare, type RemotePrepare } from "../command.js";
import { table, when } from "../table.js";
import { endText, lengthText, localTime, relativeTime } from "../times.js";
import { vmresCommand } from "../invocation.js";
import { withCheckedOutAt } from "../deprecated-keys.js";

/** How many of the longest holds status shows. */
const LONGEST = 5;

type QueueLength = { pool: string; waiting: number; offered: number };

/**
 * `vmres status`: per pool, how many VMs are in each state and how many people
 * wait; the VMs held for waiters; the longest holds (the CLI's operator is an
 * admin); and which cleanups need a person.
 */
export const prepareStatus: Prepare = () => async ({ core }) => {
  // postgres.js reads only (the command is sqlOnly, its modules light enough to load with it): sent
  // together, and with the schema check, they share one connection's round trips.
  const viewer = { person: "operator", source: "cli" } as const;
  const [pools, queues, out] = await Promise.all([poolSummary(core.db), queueLengths(core), allVms(core, viewer, { states: ["checked_out", "held", "quarantined"] })]);
  return statusOf(pools, queues, out);
};

/** Over the API: `GET /v1/pools` (counts, quotas, queues) and `GET /v1/vms` (holds, held, quarantined) as the token's person sees them. */
export const remoteStatus: RemotePrepare = () => async (remote) => {
  const [{ call }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/shapes.js")]);
  const [pools, vms] = await Promise.all([call(remote, (init) => remote.client.GET("/v1/pools", init)), call(remote, (init) => remote.client.GET("/v1/vms", init))]);
  if ("kind" in pools) return pools;
  if ("kind" in vms) return vms;
  if (!pools.ok) return { ok: false, refusal: pools.refusal, userId: null };
  if (!vms.ok) return { ok: false, refusal: vms.refusal, userId: null };
  const queues = pools.value.filter((p) => p.waiting + p.offered > 0).map((p) => ({ pool: p.name, waiting: p.waiting, offered: p.offered }));
  const out = vms.value.filter((v) => v.state === "checked_out" || v.state === "held" || v.state === "quarantined").map(shapes.vmSummary);
  return statusOf(pools.value.map((p) => shapes.poolSummary(p)), queues, out);
};

function statusOf(pools: PoolSummary[], queues: QueueLength[], out: VmSummary[]) {
  const quarantined = out.filter((v) => v.state === "quarantined");
  const held = out.filter((v) => v.state === "held");
  const longestHolds = out
    .filter((v) => v.state === "checked_out" && v.startedAt !== null)
    .sort((a, b) => new Date(a.startedAt!).getTime() - new Date(b.startedAt!).getTime())
    .slice(0, LONGEST);
  // --json: each VM with the deprecated `checkedOutAt` beside `startedAt` (one release).
  const json = { pools, queues, held: held.map(withCheckedOutAt), longestHolds: longestHolds.map(withCheckedOutAt), quarantined: quarantined.map(withCheckedOutAt) };
  return done(json, describeStatus(pools, queues, held, longestHolds, quarantined));
};

function describeStatus(pools: PoolSummary[], queues: QueueLength[], held: VmSummary[], longest: VmSummary[], quarantined: VmSummary[]): string {
  if (pools.length === 0) return `No pools yet: add VMs with ${vmresCommand()} pool add or ${vmresCommand()} pool sync.`;
  const now = new Date();
  const waiting = new Map(queues.map((q) => [q.pool, q.waiting + q.offered]));
  const lines = [
    table(
      ["POOL", "QUOTA", "CLEANUP", "TOTAL", "AVAILABLE", "HELD", "CHECKED OUT", "CLEANING", "QUARANTINED", "MAINTENANCE", "RETIRED", "WAITING"],
      pools.map((p) => [
        p.pool,
        String(p.quota),
        p.cleanupBlocked !== null ? "blocked" : p.cleanup,
        String(p.total),
        ...[p.counts.available, p.counts.held, p.counts.checked_out, p.counts.cleaning, p.counts.quarantined, p.counts.maintenance, p.counts.retired].map(String),
        String(waiting.get(p.pool) ?? 0),
      ]),
    ),
  ];
  const blocked = pools.filter((p) => p.cleanupBlocked !== null);
  if (blocked.length > 0) {
    lines.push(
      "",
      `Cleanup blocked (VMs checked in stay in cleaning until an admin runs ${vmresCommand()} cleanup done VM --reason "…" or ${vmresCommand()} pool set POOL --cleanup none):`,
      table(
        ["POOL", "CLEANING", "WHY"],
        blocked.map((p) => [p.pool, String(p.counts.cleaning), p.cleanupBlocked ?? "-"]),
      ),
    );
  }
  if (held.length > 0) {
    lines.push(
      "",
      "Held for the first in line (theirs to take until the claim window ends):",
      table(
        ["NAME", "POOL", "FOR", "UNTIL"],
        held.map((v) => [v.name, v.pool, v.heldFor?.person ? personText(v.heldFor.person) : "-", v.heldFor ? `${localTime(v.heldFor.until)} (${relativeTime(v.heldFor.until, now)})` : "-"]),
      ),
    );
  }
  if (longest.length > 0) {
    lines.push(
      "",
      "Longest holds:",
      table(
        ["NAME", "POOL", "HOLDER", "SINCE", "FOR", "ENDS"],
        longest.map((v) => [
          v.name,
          v.pool,
          v.holder ? personText(v.holder) : "-",
          when(v.startedAt),
          lengthText(Math.max(0, now.getTime() - new Date(v.startedAt!).getTime()), 2),
          endText(v.endsAt, now),
        ]),
      ),
    );
  }
  if (quarantined.length > 0) {
    lines.push(
      "",
      `Quarantined (cleanup failed; fix the VM, then ${vmresCommand()} cleanup retry VM or ${vmresCommand()} pool repair VM):`,
      table(
        ["NAME", "POOL", "SINCE", "LAST ERROR"],
        quarantined.map((v) => [v.name, v.pool, when(v.stateChangedAt), v.cleanupLastError ?? "-"]),
      ),
    );
  }
  return lines.join("\n");
}
