import { allVms } from "../../core/queries.js";
import { adminVm } from "../commands/admin.js";
import type { VmOperation } from "../commands/admin.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { plain, section, type SlackMessage } from "../views/blocks.js";
import { personMention, when } from "../views/format.js";

/**
 * An admin button (Repaired, Retry cleanup, Drain, Undrain, History): the same
 * operation as the typed command, so the core checks the clicker is an admin
 * and that the VM is still in a state the operation applies to; a second
 * click finds it done and is told so.
 */
export async function adminButton(deps: SlackDeps, caller: Caller, operation: VmOperation, vm: string | undefined): Promise<SlackMessage> {
  if (!vm) return plain(":warning: That button names no VM; type the command instead (`/vm help admin`).");
  return adminVm(deps, caller, operation, vm);
}

/** "Who has them?" on a pool-exhausted alert: the pool's checked-out VMs, holders and since when. */
export async function poolHolders(deps: SlackDeps, userId: string, pool: string | undefined): Promise<SlackMessage> {
  // Who holds what is the core's rule (everyone sees it unless HIDE_HOLDERS).
  const held = (await allVms(deps.core, slackActor(userId), { states: ["checked_out"] })).filter((v) => v.pool === pool);
  if (held.length === 0) return plain(`:information_source: Nobody holds a VM of pool *${pool ?? "?"}* right now.`);
  const lines = held.slice(0, 40).map((v) => `*${v.name}* — ${v.holder ? personMention(v.holder) : "(hidden)"}${v.checkedOutAt ? ` since ${when(v.checkedOutAt)}` : ""}`);
  return { text: `Who holds pool ${pool ?? ""}`, blocks: [section(`*Pool ${pool ?? ""}: ${held.length} checked out*\n${lines.join("\n")}`)] };
}
