import type { types } from "@slack/bolt";
import { CLEANUP_BLOCKED_PREFIX, type BlockedCleanups, type PoolSummary } from "../../core/queries.js";
import type { VmSummary } from "../../core/types.js";
import { ACTION, offerValue } from "./actions.js";
import { actions, button, context, divider, header, section, type Block, type SlackMessage } from "./blocks.js";
import { checkinButton } from "./checkout-dm.js";
import type { QueuePlace } from "../../core/waitlist.js";
import type { Reservation } from "../../core/reservations.js";
import { rangeWords, reservationLine, reserveButton } from "./reservation-messages.js";
import type { Reading } from "../time-zone.js";
import { countsLine, endWords, escape, localTime, personMention, relativeWords, sshLine, truncate, when } from "./format.js";
import { extendButton } from "./lease-dm.js";
import type { ImageSummary, InstanceSummary, JobSummary } from "../../core/provision/queries.js";

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
  /** The reader's time zone (Slack's user.tz); null: UTC. */
  timeZone?: string | null;
  /** The reader's places in pools' queues. */
  queues?: QueuePlace[];
  /** For admins: the open checkouts that started longest ago. */
  longestHolds?: VmSummary[];
  /** For admins: people waiting per pool. */
  queueLengths?: { pool: string; waiting: number; offered: number }[];
  /** For admins, where pools are provisioned: instances, saved images and provider jobs (failed ones with their errors). */
  provisioned?: { instances: InstanceSummary[]; images: ImageSummary[]; failedJobs: JobSummary[] };
  /** The reader's saved images. */
  myImages?: ImageSummary[];
  /** The reader's bookings (booked or under way), soonest first. */
  reservations?: Reservation[];
  /** The next bookings of each pool, soonest first. */
  nextBookings?: Reservation[];
}

// A Home view holds at most 100 blocks; these caps keep the worst case near 90 (and the view is cut at 100 regardless).
const MAX_BLOCKS = 100;
const MAX_MINE = 8;
const MAX_QUEUES = 5;
const MAX_POOLS = 15;
const MAX_ATTENTION = 12;
const MAX_BLOCKED = 3;
const MAX_LONGEST = 5;

export function homeView(data: HomeData): types.HomeView {
  const r: Reading = { timeZone: data.timeZone ?? null, now: data.now };
  const blocks: Block[] = [header("vmres"), ...(data.banner ? [...data.banner.blocks.slice(0, 3), divider()] : [])];
  // At the top: these VMs wait on vmres's own key, not on anything wrong with them, and only an admin can fix it.
  if (data.isAdmin && data.blocked.length > 0) blocks.push(...blockedCleanupBlocks(data.blocked), divider());
  blocks.push(...mineBlocks(data.mine, r));
  if ((data.queues ?? []).length > 0) blocks.push(divider(), ...queueBlocks(data.queues ?? [], r));
  blocks.push(divider(), ...bookingBlocks(data.reservations ?? [], data.nextBookings ?? [], r, data.pools.length > 0));
  blocks.push(divider(), ...poolBlocks(data.pools));
  if ((data.myImages ?? []).length > 0) blocks.push(divider(), myImagesBlock(data.myImages ?? []));
  if (data.isAdmin) blocks.push(divider(), ...attentionBlocks(data.attention), ...leaseAdminBlocks(data.longestHolds ?? [], data.queueLengths ?? [], r));
  if (data.isAdmin && data.provisioned) blocks.push(divider(), ...provisionedBlocks(data.provisioned));
  const footer = context(`Updated ${localTime(data.now, r.timeZone)}. Type \`/vm help\` for every command.`);
  return { type: "home", blocks: [...blocks.slice(0, MAX_BLOCKS - 1), footer] };
}

function myImagesBlock(images: ImageSummary[]): Block {
  const lines = images.slice(0, 8).map((i) => `• *${escape(i.name)}* · pool ${escape(i.pool)}${i.state === "ready" ? "" : ` · ${escape(i.state)}`}`);
  return section(`*Your saved images*\n${lines.join("\n")}\n\`/vm checkout POOL --restore\` brings back your latest.`);
}

/** For admins: the provisioned pools' instances, images and failed jobs (with the commands that act on them). */
function provisionedBlocks(p: NonNullable<HomeData["provisioned"]>): Block[] {
  const instances = p.instances.slice(0, 10).map((i) => `• *${escape(i.name)}* · ${escape(i.state)}${i.vmState ? `/${escape(i.vmState)}` : ""}${i.ip ? ` · ${i.ip}` : ""}`);
  const images = p.images.slice(0, 8).map((i) => `• *${escape(i.name)}* · ${escape(i.owner)} · ${escape(i.state)}`);
  const failed = p.failedJobs.slice(0, 5).map((j) => `• job *${j.id}* ${j.kind} ${escape(j.instance ?? j.image ?? "")}: \`${escape((j.lastError ?? "").slice(0, 150))}\``);
  return [
    section(`*Instances* (admins, ${p.instances.length})\n${instances.length > 0 ? instances.join("\n") : "None."}`),
    section(`*Saved images* (admins, ${p.images.length})\n${images.length > 0 ? images.join("\n") : "None."}`),
    section(`*Failed provider jobs* (admins)\n${failed.length > 0 ? `${failed.join("\n")}\n\`/vm jobs retry ID\` or \`/vm jobs abandon ID\`` : "None."}`),
  ];
}

function mineBlocks(mine: VmSummary[], r: Reading): Block[] {
  if (mine.length === 0) return [section("*Your VMs*\nYou hold no VM. Check one out from a pool below, or type `/vm checkout`.")];
  const rows = mine.slice(0, MAX_MINE).flatMap((vm) => {
    const since = vm.startedAt ? ` · since ${when(vm.startedAt)}` : "";
    const ends = vm.checkoutId !== null ? `\nEnds ${endWords(vm.endsAt, r.timeZone, r.now)}` : "";
    const text = `*${vm.name}* · pool ${vm.pool}${since}${ends}\n\`${sshLine(vm)}\``;
    if (vm.checkoutId === null) return [section(text)];
    const buttons = [checkinButton(vm.name, vm.checkoutId), ...(vm.endsAt !== null ? [extendButton(vm.name, vm.checkoutId)] : [])];
    return [section(text), actions(buttons)];
  });
  const more = mine.length > MAX_MINE ? [context(`…and ${mine.length - MAX_MINE} more: \`/vm list\` shows them all.`)] : [];
  return [section(`*Your VMs* (${mine.length})`), ...rows, ...more];
}

/** The reader's places in queues: position and Leave, or the VM held for them with Take it / Pass. */
function queueBlocks(queues: QueuePlace[], r: Reading): Block[] {
  const rows = queues.slice(0, MAX_QUEUES).flatMap((q): Block[] => {
    const pool = escape(q.pool);
    if (q.state === "offered" && q.offeredVm !== null) {
      const until = q.offerExpiresAt ? ` until ${localTime(q.offerExpiresAt, r.timeZone)} (${relativeWords(q.offerExpiresAt, r.now)})` : "";
      return [
        section(`:tada: *${pool}*: *${escape(q.offeredVm)}* is held for you${until}.`),
        actions([
          button({ text: "Take it", actionId: ACTION.takeOffer, value: offerValue(q.waiterId), style: "primary" }),
          button({ text: "Pass", actionId: ACTION.passOffer, value: offerValue(q.waiterId) }),
        ]),
      ];
    }
    const where = q.position === 1 ? "first in line" : `number ${q.position} in line`;
    return [section(`*${pool}*: ${where} (since ${localTime(q.joinedAt, r.timeZone)})`, button({ text: "Leave", actionId: ACTION.leaveQueue, value: q.pool }))];
  });
  const more = queues.length > MAX_QUEUES ? [context(`…and ${queues.length - MAX_QUEUES} more queues.`)] : [];
  return [section(`*Your queues* (${queues.length})`), ...rows, ...more];
}

const MAX_BOOKINGS = 5;
const MAX_NEXT = 10;

/** The reader's bookings, the next bookings of each pool, and Book VMs (the form). */
function bookingBlocks(mine: Reservation[], next: Reservation[], r: Reading, anyPool: boolean): Block[] {
  const book = anyPool ? section("*Your bookings*" + (mine.length > 0 ? ` (${mine.length})` : "\nNone. Book VMs for later: a demo, a training, a release test."), reserveButton()) : section("*Your bookings*\nNone.");
  const rows = mine.slice(0, MAX_BOOKINGS).map((b) => section(reservationLine(b, r)));
  const more = mine.length > MAX_BOOKINGS ? [context(`…and ${mine.length - MAX_BOOKINGS} more: \`/vm reservations\` lists them.`)] : [];
  const upcoming = next.slice(0, MAX_NEXT).map((b) => `*${escape(b.pool)}*: ${b.count} × ${rangeWords(b.from, b.to, r.timeZone)} · ${escape(b.label)}${b.state === "started" ? " (under way)" : ""}`);
  const nextBlock = upcoming.length > 0 ? [section(`*Next bookings*\n${upcoming.join("\n")}`)] : [];
  return [book, ...rows, ...more, ...nextBlock];
}

/** For admins: who has held a VM longest, and how many wait in each pool's queue. */
function leaseAdminBlocks(longest: VmSummary[], lengths: { pool: string; waiting: number; offered: number }[], r: Reading): Block[] {
  const holds = longest.slice(0, MAX_LONGEST).map((vm) => {
    const who = vm.holder ? personMention(vm.holder) : "(hidden)";
    const since = vm.startedAt ? `since ${localTime(vm.startedAt, r.timeZone)} (${relativeWords(vm.startedAt, r.now)})` : "";
    return `*${escape(vm.name)}* (${escape(vm.pool)}) · ${who} · ${since} · ends ${vm.endsAt === null ? "never (pinned)" : relativeWords(vm.endsAt, r.now)}`;
  });
  const queues = lengths.slice(0, 20).map((q) => `*${escape(q.pool)}*: ${q.waiting} waiting${q.offered > 0 ? `, ${q.offered} offered a VM` : ""}`);
  return [
    section(`*Longest holds* (admins)\n${holds.length > 0 ? holds.join("\n") : "No VM is checked out."}`),
    section(`*Queues* (admins)\n${queues.length > 0 ? queues.join("\n") : "Nobody is waiting."}`),
  ];
}

function poolBlocks(pools: PoolSummary[]): Block[] {
  if (pools.length === 0) return [section("*Pools*\nNo pool has VMs yet. An admin adds them with `/vm admin add` or in vms.yml.")];
  const rows = pools.slice(0, MAX_POOLS).map((p) => {
    const text = `*${p.pool}* — ${countsLine(p.counts)}`;
    return p.counts.available > 0
      ? section(text, button({ text: "Check out", actionId: ACTION.homeCheckout, value: p.pool }))
      : section(`${text}\n_None free right now._`, button({ text: "Notify me", actionId: ACTION.notifyMe, value: p.pool }));
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
