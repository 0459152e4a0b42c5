import type { types } from "@slack/bolt";
import { CLEANUP_BLOCKED_PREFIX, type BlockedCleanups, type PoolSummary } from "../../core/queries.js";
import type { VmSummary } from "../../core/types.js";
import { ACTION } from "./actions.js";
import { actions, button, context, divider, header, section, type Block, type SlackMessage } from "./blocks.js";
import { checkinButton } from "./checkout-dm.js";
import { countsLine, escape, sshLine, truncate, when } from "./format.js";

/** Everything the Home tab shows one person. */
export interface HomeData {
  isAdmin: boolean;
  mine: VmSummary[];
  pools: PoolSummary[];
  /** For admins: VMs quarantined or in maintenance. */
  attention: VmSummary[];
  /** For admins: cleanups waiting because vmres cannot use its private key, by reason (empty when none, and for everyone else). */
  blocked: BlockedCleanups[];
  /** The outcome of the person's last click on this tab (Home clicks have no other place for an answer). */
  banner?: SlackMessage;
  now: Date;
}

// A Home view holds at most 100 blocks; these caps keep the worst case near 80.
const MAX_MINE = 10;
const MAX_POOLS = 20;
const MAX_ATTENTION = 15;
const MAX_BLOCKED = 3;

export function homeView(data: HomeData): types.HomeView {
  const blocks: Block[] = [header("vmres"), ...(data.banner ? [...data.banner.blocks.slice(0, 3), divider()] : [])];
  // At the top: these VMs wait on vmres's own key, not on anything wrong with them, and only an admin can fix it.
  if (data.isAdmin && data.blocked.length > 0) blocks.push(...blockedCleanupBlocks(data.blocked), divider());
  blocks.push(...mineBlocks(data.mine), divider(), ...poolBlocks(data.pools));
  if (data.isAdmin) blocks.push(divider(), ...attentionBlocks(data.attention));
  blocks.push(context(`Updated ${when(data.now)}. Type \`/vm help\` for every command.`));
  return { type: "home", blocks };
}

function mineBlocks(mine: VmSummary[]): Block[] {
  if (mine.length === 0) return [section("*Your VMs*\nYou hold no VM. Check one out from a pool below, or type `/vm checkout`.")];
  const rows = mine.slice(0, MAX_MINE).map((vm) => {
    const text = `*${vm.name}* · pool ${vm.pool}${vm.checkedOutAt ? ` · since ${when(vm.checkedOutAt)}` : ""}\n\`${sshLine(vm)}\``;
    return vm.checkoutId !== null ? section(text, checkinButton(vm.name, vm.checkoutId)) : section(text);
  });
  const more = mine.length > MAX_MINE ? [context(`…and ${mine.length - MAX_MINE} more: \`/vm list\` shows them all.`)] : [];
  return [section(`*Your VMs* (${mine.length})`), ...rows, ...more];
}

function poolBlocks(pools: PoolSummary[]): Block[] {
  if (pools.length === 0) return [section("*Pools*\nNo pool has VMs yet. An admin adds them with `/vm admin add` or in vms.yml.")];
  const rows = pools.slice(0, MAX_POOLS).map((p) => {
    const text = `*${p.pool}* — ${countsLine(p.counts)}`;
    return p.counts.available > 0 ? section(text, button({ text: "Check out", actionId: ACTION.homeCheckout, value: p.pool })) : section(`${text}\n_None free right now._`);
  });
  const more = pools.length > MAX_POOLS ? [context(`…and ${pools.length - MAX_POOLS} more pools: \`/vm status\` lists them all.`)] : [];
  return [section("*Pools*"), ...rows, ...more];
}

function attentionBlocks(vms: VmSummary[]): Block[] {
  if (vms.length === 0) return [section("*Needs attention* (admins)\nEvery VM is in service.")];
  const rows = vms.slice(0, MAX_ATTENTION).flatMap((vm) => [
    section(
      `*${vm.name}* · pool ${vm.pool} · ${vm.state === "quarantined" ? ":rotating_light: quarantined" : ":wrench: in maintenance"} since ${when(vm.stateChangedAt)}` +
        (vm.cleanupLastError ? `\n> ${escape(truncate(vm.cleanupLastError.replace(/\s+/g, " "), 300))}` : ""),
    ),
    actions(adminButtons(vm)),
  ]);
  const more = vms.length > MAX_ATTENTION ? [context(`…and ${vms.length - MAX_ATTENTION} more.`)] : [];
  return [section(`*Needs attention* (admins, ${vms.length})`), ...rows, ...more];
}

function blockedCleanupBlocks(blocked: BlockedCleanups[]): Block[] {
  const rows = blocked.slice(0, MAX_BLOCKED).map((b) => {
    const why = b.error.startsWith(CLEANUP_BLOCKED_PREFIX) ? b.error.slice(CLEANUP_BLOCKED_PREFIX.length) : b.error;
    const waiting = b.waiting === 1 ? "1 VM waits" : `${b.waiting} VMs wait`;
    return section(`> ${escape(truncate(why.replace(/\s+/g, " "), 500))}\n${waiting} in cleaning.`);
  });
  const more = blocked.length > MAX_BLOCKED ? [context(`…and ${blocked.length - MAX_BLOCKED} more reasons: \`/vm list\` shows every VM's state.`)] : [];
  return [
    section(":rotating_light: *Cleanup is blocked* (admins): vmres cannot use its own SSH private key. Nothing is wrong with the VMs; they are cleaned as soon as the file can be read, no restart needed."),
    ...rows,
    ...more,
  ];
}

/** The admin buttons for a VM out of service: what the core allows from its state. */
export function adminButtons(vm: { name: string; state: string }): ReturnType<typeof button>[] {
  if (vm.state === "maintenance") return [button({ text: "Undrain", actionId: ACTION.undrain, value: vm.name, style: "primary" })];
  return [
    button({ text: "Retry cleanup", actionId: ACTION.retryCleanup, value: vm.name, style: "primary" }),
    button({
      text: "Repaired",
      actionId: ACTION.repair,
      value: vm.name,
      confirm: { title: `Return ${vm.name} to the pool?`, text: `Only if you fixed it by hand: *${vm.name}* goes back to the pool without another cleanup.`, confirm: "Repaired" },
    }),
    button({ text: "Drain", actionId: ACTION.drain, value: vm.name, style: "danger" }),
  ];
}
