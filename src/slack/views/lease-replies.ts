import type { PoolSettings } from "../../core/admin.js";
import type { LeaseChange } from "../../core/leases.js";
import type { QueuePlace } from "../../core/waitlist.js";
import type { VmSummary } from "../../core/types.js";
import { formatDuration } from "../../duration.js";
import type { Reading } from "../time-zone.js";
import { context, plain, section, type Block, type SlackMessage } from "./blocks.js";
import { endWords, escape, listWords, localTime, personMention } from "./format.js";
import { extendButton, noticeText } from "./lease-dm.js";

/** Ephemeral answers to `/vm extend`, `/vm wait`, `/vm unwait`, `/vm pool set` and their buttons. */

export function extendedReply(change: LeaseChange, r: Reading): SlackMessage {
  const vm = escape(change.vm);
  if (change.byAdmin) {
    const what = change.endsAt === null ? "is pinned: it has no end now" : `now ends ${endWords(change.endsAt, r.timeZone, r.now)}`;
    return plain(`:white_check_mark: *${vm}*, held by ${personMention(change.holder)}, ${what}. They have been told by DM.`);
  }
  if (change.endsAt === null) return plain(`:white_check_mark: *${vm}* is pinned: it has no end now.`);
  return plain(`:white_check_mark: *${vm}* is yours until *${endWords(change.endsAt, r.timeZone, r.now)}*.`);
}

/** `/vm extend` with several VMs held and none named: one Extend button each. */
export function pickExtendReply(vms: VmSummary[], r: Reading): SlackMessage {
  const rows: Block[] = vms.slice(0, 40).map((vm) => {
    const text = `*${escape(vm.name)}* · pool ${escape(vm.pool)} · ends ${endWords(vm.endsAt, r.timeZone, r.now)}`;
    return vm.checkoutId !== null && vm.endsAt !== null ? section(text, extendButton(vm.name, vm.checkoutId)) : section(text);
  });
  return {
    text: `You hold ${listWords(vms.map((v) => v.name))}; say which to extend, like /vm extend ${vms[0]?.name ?? "vm-01"} by 2h`,
    blocks: [section(`You hold ${vms.length} VMs. Which one do you want to extend? Press its *Extend* (by the pool's lease) or type \`/vm extend ${escape(vms[0]?.name ?? "vm-01")} by 2h\`.`), ...rows],
  };
}

export function nothingToExtendReply(): SlackMessage {
  return plain(":information_source: You hold no VM, so there is nothing to extend. `/vm checkout` gets you one.");
}

export function waitReply(place: QueuePlace & { already: boolean }, r: Reading): SlackMessage {
  const pool = escape(place.pool);
  if (place.state === "offered" && place.offeredVm !== null) {
    const until = place.offerExpiresAt ? ` until ${localTime(place.offerExpiresAt, r.timeZone)}` : "";
    return plain(`:tada: *${escape(place.offeredVm)}* is held for you${until}: take it or pass in your DM from vmres (or on the Home tab).`);
  }
  const where = place.position === 1 ? "first in line" : `number ${place.position} in line`;
  const head = place.already ? `:information_source: You are already in the queue of pool *${pool}*: ${where}.` : `:white_check_mark: You are in the queue of pool *${pool}*: ${where}.`;
  return {
    text: noticeText(head),
    blocks: [
      section(head),
      context(`When a VM is free it is held for you for a few minutes and vmres DMs you to *Take it* or *Pass*. \`/vm unwait ${pool}\` leaves the queue.`),
    ],
  };
}

export function unwaitReply(left: string[]): SlackMessage {
  const pools = listWords(left.map((p) => `*${escape(p)}*`));
  return plain(`:white_check_mark: You left the queue of ${left.length === 1 ? "pool" : "pools"} ${pools}. A VM held for you goes to the next in line.`);
}

const cleanupWords = (s: PoolSettings) =>
  s.cleanup === "none" ? "no cleanup (a checked-in VM is available again at once, nothing wiped)" : "cleaned over SSH after each check-in";

export function poolSetReply(s: PoolSettings): SlackMessage {
  const lease = s.leaseMs === null ? "the default (DEFAULT_LEASE)" : formatDuration(s.leaseMs, 2);
  const max = s.maxLeaseMs === null ? "the default (MAX_LEASE)" : formatDuration(s.maxLeaseMs, 2);
  const ahead = s.maxBookingAheadMs === null ? "the default (MAX_BOOKING_AHEAD)" : formatDuration(s.maxBookingAheadMs, 2);
  const length = s.maxBookingLengthMs === null ? "the default (MAX_BOOKING_LENGTH, else the longest lease)" : formatDuration(s.maxBookingLengthMs, 2);
  return plain(
    `:white_check_mark: Pool *${escape(s.pool)}*: lease ${lease}, longest lease ${max}, quota ${s.quota} per person; bookings at most ${ahead} ahead, at most ${length} long; ${cleanupWords(s)}. Open checkouts keep their ends.`,
  );
}

/** After Take it: the checkout, its end; details come by DM as for any checkout. */
export function takenReply(vm: { name: string; pool: string; endsAt: Date | null }, r: Reading): SlackMessage {
  return plain(`:white_check_mark: *${escape(vm.name)}* is yours until ${endWords(vm.endsAt, r.timeZone, r.now)}. Its details and SSH line are in your DM from vmres.`);
}

export function passedReply(vm: string | null, pool: string): SlackMessage {
  return plain(`:information_source: You passed${vm ? ` on *${escape(vm)}*` : ""}: it goes to the next in line, and you left the queue of pool *${escape(pool)}*. \`/vm wait ${escape(pool)}\` joins it again.`);
}
