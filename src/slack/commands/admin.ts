import { bookingsOfVm } from "../../core/reservations.js";
import { readingOfSlackUser } from "../time-zone.js";
import { section } from "../views/blocks.js";
import { escape } from "../views/format.js";
import { rangeWords } from "../views/reservation-messages.js";
import { addVm, drainVm, removeVm, repairVm, retryCleanup, setPool, type PoolChange, type PoolLeases } from "../../core/admin.js";
import { cleanupDone } from "../../core/cleanup/cleanup-done.js";
import { vmHistory } from "../../core/queries.js";
import type { Result } from "../../core/types.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { addedReply, alreadyHandledReply, cleanupDoneReply, historyReply, removedReply, transitionReply } from "../views/replies.js";
import { checkinNamed } from "./checkin.js";
import { poolSetReply } from "../views/lease-replies.js";
import { refusalReply } from "./refusal-reply.js";

const HISTORY_LIMIT = 25;

/** What an admin can do to one VM, from `/vm` or a button. */
export type VmOperation = "remove" | "drain" | "repair" | "retry-cleanup" | "force-checkin" | "history";

/** `/vm pool add`, as typed; defaults are filled in by adminAdd. */
export interface AddSpec {
  name: string;
  ip: string;
  pool?: string;
  sshUser?: string;
  sshPort?: number;
  hostKey?: string;
  tags: string[];
  /** For a new pool: its lease and longest lease. */
  leases?: PoolLeases;
}

/** `/vm pool add` (or `/vm admin add`): defaults as the CLI's `vmres pool add`. Whether the caller is an admin is the core's check. */
export async function adminAdd(deps: SlackDeps, caller: Caller, spec: AddSpec): Promise<SlackMessage> {
  const full = {
    name: spec.name,
    ip: spec.ip,
    pool: spec.pool ?? deps.core.defaultPool,
    sshUser: spec.sshUser ?? "root",
    sshPort: spec.sshPort ?? 22,
    hostKeyFingerprint: spec.hostKey ?? null,
    tags: spec.tags,
  };
  return acted(deps, caller, () => addVm(deps.core, slackActor(caller.userId), full, spec.leases ?? {}), () => addedReply(full));
}

/** `/vm pool set POOL [--lease D] [--max-lease D] [--quota N] [--max-booking-ahead D] [--max-booking-length D]`; the core checks the values and that the caller is an admin. */
export async function adminPoolSet(deps: SlackDeps, caller: Caller, pool: string, change: PoolChange): Promise<SlackMessage> {
  return acted(deps, caller, () => setPool(deps.core, slackActor(caller.userId), pool, change), poolSetReply);
}

/** `/vm pool drain VM` and the like (or `/vm admin <operation> VM`), and the admin buttons, which call the same operations. */
export async function adminVm(deps: SlackDeps, caller: Caller, operation: VmOperation, vm: string): Promise<SlackMessage> {
  const actor = slackActor(caller.userId);
  switch (operation) {
    case "force-checkin":
      return checkinNamed(deps, caller, vm, { force: true });
    case "remove":
      return acted(deps, caller, () => removeVm(deps.core, actor, vm), removedReply);
    case "drain":
      return acted(deps, caller, () => drainVm(deps.core, actor, vm), (d) => transitionReply(d.vm, d.to)).then(async (reply) => {
        // Shown against the bookings it would break.
        const bookings = await bookingsOfVm(deps.core, vm);
        if (bookings.length === 0 || !/maintenance/.test(reply.text)) return reply;
        const reading = await readingOfSlackUser(deps.core, caller.userId);
        const lines = bookings.map((b) => `• *${escape(b.label)}* (${escape(b.person)}): ${rangeWords(b.from, b.to, reading.timeZone)}`);
        return { text: reply.text, blocks: [...reply.blocks, section(`:calendar: *${escape(vm)}* is booked ahead. Unless repaired by then, each booking gets another free VM at its start, or its person and the admins are told:\n${lines.join("\n")}`)] };
      });
    case "repair":
      return acted(deps, caller, () => repairVm(deps.core, actor, vm), (d) => transitionReply(d.vm, d.to));
    case "retry-cleanup":
      return acted(deps, caller, () => retryCleanup(deps.core, actor, vm), (d) => transitionReply(d.vm, d.to));
    case "history":
      return history(deps, caller.userId, vm);
  }
}

/** `/vm cleanup done VM reason…`: the core decides who may and which VM; once per interaction. */
export async function adminCleanupDone(deps: SlackDeps, caller: Caller, vm: string, reason: string): Promise<SlackMessage> {
  return acted(deps, caller, () => cleanupDone(deps.core, slackActor(caller.userId), vm, reason), cleanupDoneReply);
}

/** Reads need no dedupe; who may read a history is the core's rule. */
async function history(deps: SlackDeps, userId: string, vm: string): Promise<SlackMessage> {
  const entries = await vmHistory(deps.core, slackActor(userId), vm, HISTORY_LIMIT);
  return entries.ok ? historyReply(vm, entries.value) : refusalReply(deps, userId, entries.refusal);
}

/** Runs a change once per interaction and words its outcome. */
async function acted<T>(deps: SlackDeps, caller: Caller, change: () => Promise<Result<T>>, words: (value: T) => SlackMessage): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, change);
  if (once.duplicate) return alreadyHandledReply();
  deps.noticeQueued();
  return once.value.ok ? words(once.value.value) : refusalReply(deps, caller.userId, once.value.refusal);
}
