import type { Input } from "../../commands/parse.js";
import { knownPools } from "../../core/queries.js";
import { cancelReservation, listReservations, reserve, type Reservation } from "../../core/reservations.js";
import type { Refusal, Result } from "../../core/types.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { parseNaturalRange } from "../natural-time.js";
import { readingOfSlackUser } from "../time-zone.js";
import type { SlackMessage } from "../views/blocks.js";
import { refusalText } from "../views/refusals.js";
import { alreadyHandledReply } from "../views/replies.js";
import { bookedReply, cancelledReply, reservationsReply, reserveFormOpenedReply } from "../views/reservation-messages.js";
import { FIELD, formValues, reserveModal, type FormField } from "../views/reserve-modal.js";
import { refusalReply } from "./refusal-reply.js";
import { shown } from "./parse.js";
import { usageReply } from "./usage-reply.js";

const text = (input: Input, name: string) => (typeof input.options[name] === "string" ? (input.options[name] as string) : undefined);

/**
 * `/vm reserve 3 gpu from "mon 9:00" to "mon 17:00" label release-4.2 [--note …]`:
 * the times read in the person's Slack time zone. With nothing after `reserve`, the booking form opens.
 */
export async function reserveCommand(deps: SlackDeps, caller: Caller, input: Input): Promise<SlackMessage> {
  if (Object.values(input.options).every((v) => v === undefined)) return openReserveForm(deps, caller);
  const vms = Array.isArray(input.options["vm"]) ? (input.options["vm"] as string[]) : undefined;
  let count = text(input, "count") ?? (vms ? String(vms.length) : undefined);
  let pool = text(input, "pool");
  // `/vm reserve gpu from …`: one VM of gpu.
  if (count !== undefined && pool === undefined && !/^\d+$/.test(count)) [pool, count] = [count, "1"];
  const from = text(input, "from");
  const to = text(input, "to");
  const label = text(input, "label");
  const missing = [pool === undefined && "a pool", from === undefined && "`from`", to === undefined && "`to`", label === undefined && "`label`"].filter(Boolean);
  const example = '`/vm reserve 3 gpu from "mon 9:00" to "mon 17:00" label release-4.2`';
  if (missing.length > 0) return usageReply(deps, caller.userId, `A booking needs ${missing.join(", ")}: like ${example} (or \`/vm reserve\` alone for the form).`, { command: "reserve" });
  if (!/^\d{1,4}$/.test(count ?? "1")) return usageReply(deps, caller.userId, `\`${shown(count ?? "")}\` is not a number of VMs: use a whole number from 1 to 1000, like ${example}.`, { command: "reserve" });
  const reading = await readingOfSlackUser(deps.core, caller.userId);
  const range = parseNaturalRange(from!, to!, reading.timeZone ?? "UTC", reading.now);
  if (!range.ok) return usageReply(deps, caller.userId, `\`${range.field}\`: ${range.problem}.`, { command: "reserve" });
  const request = { pool: pool!, count: Number(count ?? "1"), from: range.from, to: range.to, label: label!, note: text(input, "note"), vms };
  const once = await actOnce(deps.core, caller.interactionKey, () => reserve(deps.core, slackActor(caller.userId), request));
  if (once.duplicate) return alreadyHandledReply();
  return once.value.ok ? bookedReply(once.value.value, reading) : refusalReply(deps, caller.userId, once.value.refusal);
}

/** Opens the booking form, or says why it cannot (no pool yet; no trigger to open it with). */
export async function openReserveForm(deps: SlackDeps, caller: Caller, pool?: string): Promise<SlackMessage> {
  const pools = await knownPools(deps.core.db);
  if (pools.length === 0) return usageReply(deps, caller.userId, "No pool exists yet, so there is nothing to book; an admin adds VMs with `/vm admin add`.", { command: "reserve" });
  if (!caller.openView) return reserveFormOpenedReply();
  const reading = await readingOfSlackUser(deps.core, caller.userId);
  await caller.openView(reserveModal(pools, { pool, timeZone: reading.timeZone }));
  return reserveFormOpenedReply();
}

/** `/vm reservations [label]`: bookings booked or under way, soonest first. */
export async function reservationsCommand(deps: SlackDeps, caller: Caller, input: Input): Promise<SlackMessage> {
  const label = text(input, "label");
  const result = await listReservations(deps.core, slackActor(caller.userId), { label, pool: text(input, "pool") });
  if (!result.ok) return refusalReply(deps, caller.userId, result.refusal);
  return reservationsReply(result.value, await readingOfSlackUser(deps.core, caller.userId), label);
}

/** `/vm cancel LABEL`: the person's own booking, or (admins) anyone's. */
export async function cancelCommand(deps: SlackDeps, caller: Caller, label: string): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () => cancelReservation(deps.core, slackActor(caller.userId), label));
  if (once.duplicate) return alreadyHandledReply();
  if (!once.value.ok) return refusalReply(deps, caller.userId, once.value.refusal);
  if (once.value.value.byAdmin) deps.noticeQueued();
  return cancelledReply(once.value.value);
}

/** The form's answer: errors by field (shown under each, the form stays open), or the booking made. */
export type FormOutcome = { errors: Partial<Record<FormField, string>> } | { booked: Reservation; reply: SlackMessage };

/** Checks a submitted booking form and books; every mistake and refusal goes back to its field. */
export async function submitReserveForm(deps: SlackDeps, userId: string, values: unknown): Promise<FormOutcome> {
  const v = formValues(values);
  const errors: Partial<Record<FormField, string>> = {};
  if (v.pool === undefined) errors.pool = "Choose a pool.";
  if (v.count === undefined || !/^\d{1,4}$/.test(v.count) || Number(v.count) < 1 || Number(v.count) > 1000) errors.count = "Give a whole number of VMs from 1 to 1000.";
  if (v.from === undefined) errors.from = "Pick when the booking starts.";
  if (v.to === undefined) errors.to = "Pick when it ends.";
  else if (v.from !== undefined && v.to <= v.from) errors.to = "The end must be after the start.";
  if (v.label === undefined) errors.label = "Give it a label, like release-4.2.";
  if (Object.keys(errors).length > 0) return { errors };
  const reading = await readingOfSlackUser(deps.core, userId);
  const result: Result<Reservation> = await reserve(deps.core, slackActor(userId), {
    pool: v.pool!,
    count: Number(v.count),
    from: new Date(v.from! * 1000),
    to: new Date(v.to! * 1000),
    label: v.label!,
    note: v.note,
  });
  if (result.ok) return { booked: result.value, reply: bookedReply(result.value, reading) };
  const words = (r: Refusal) => refusalText(r, { admins: [], timeZone: reading.timeZone, now: reading.now }).replace(/^:[a-z_]+: /, "").replace(/[*`]/g, "");
  return { errors: { [fieldOf(result.refusal)]: words(result.refusal).slice(0, 2000) } };
}

/** Which field of the form a refusal is about. */
function fieldOf(refusal: Refusal): FormField {
  switch (refusal.code) {
    case "invalid_input":
      return (Object.values(FIELD) as string[]).includes(refusal.field) ? (refusal.field as FormField) : FIELD.from;
    case "unknown_pool":
      return FIELD.pool;
    case "label_taken":
      return FIELD.label;
    case "lease_too_long":
    case "booking_too_long":
      return FIELD.to;
    case "booking_too_far":
      return FIELD.from;
    default:
      return FIELD.count;
  }
}
