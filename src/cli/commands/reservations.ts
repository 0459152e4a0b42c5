import { personText } from "../../core/people.js";
import type { Cancelled, Reservation } from "../../core/reservations.js";
import { UsageError } from "../args.js";
import { outcomeOf, type Prepare } from "../command.js";
import { table } from "../table.js";
import { localTime, timeText } from "../times.js";
import { adminActor, countOption, flag, isoTimeOption, labelArg, labelOption, noteOption, optionalUser, poolOption, requiredUser, userActor, userOf } from "../values.js";

/**
 * `vmres reserve --user ID --pool P --count N --from ISO --to ISO --label L [--note TEXT]`:
 * books VMs for later. Every value is checked before the database is opened.
 */
export const prepareReserve: Prepare = (input) => {
  const user = requiredUser(input);
  const pool = poolOption(input);
  const count = countOption(input);
  const from = isoTimeOption(input, "from");
  const to = isoTimeOption(input, "to");
  const label = labelOption(input);
  const note = noteOption(input);
  const missing = [pool === undefined && "--pool P", count === undefined && "--count N", from === undefined && "--from TIME", to === undefined && "--to TIME", label === undefined && "--label L"].filter(Boolean);
  if (missing.length > 0) {
    throw new UsageError(`${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} required: npx vmres reserve --user ${user} --pool gpu --count 3 --from 2026-12-07T09:00+01:00 --to 2026-12-07T17:00+01:00 --label release-4.2`);
  }
  if (to!.getTime() <= from!.getTime()) throw new UsageError(`--to must be after --from (${localTime(from!)}): a booking runs from its start to its end`);
  return async ({ core }) => {
    const { reserve } = await import("../../core/reservations.js");
    const result = await reserve(core, userActor(user), { pool: pool!, count: count!, from: from!, to: to!, label: label!, note });
    return outcomeOf(result, user, (r) => describeBooked(r, user));
  };
};

function describeBooked(r: Reservation, user: string): string {
  return [
    `Booked "${r.label}" for ${user}: ${r.count} VM${r.count === 1 ? "" : "s"} of pool ${r.pool}, from ${timeText(r.from)} to ${localTime(r.to)}.`,
    `Held: ${r.vms.join(", ")}. At the start they become ${user}'s checkouts until the end (the IPs by DM in Slack; npx vmres list --user ${user} shows them).`,
    `Cancel it with: npx vmres reservation cancel ${r.label} --user ${user}`,
  ].join("\n");
}

/** `vmres reservations [--label L] [--user ID] [--pool P] [--all] [--json]`. */
export const prepareReservations: Prepare = (input) => {
  const label = labelOption(input);
  const user = optionalUser(input);
  const pool = poolOption(input);
  const all = flag(input, "all");
  return async ({ core }) => {
    const { listReservations } = await import("../../core/reservations.js");
    const result = await listReservations(core, { person: "operator", source: "cli" }, { label, pool, all, person: user === undefined ? undefined : { lookup: user } });
    return outcomeOf(result, user ?? null, (list) => describeList(list, all));
  };
};

function describeList(list: Reservation[], all: boolean): string {
  if (list.length === 0) return all ? "No bookings recorded." : "No bookings (booked or under way).";
  return table(
    ["LABEL", "POOL", "N", "FROM", "TO", "PERSON", "STATE", "VMS", "NOTE"],
    list.map((r) => [r.label, r.pool, String(r.count), localTime(r.from), localTime(r.to), r.person ? personText(r.person) : "-", r.state, r.vms.join(",") || "-", r.note ?? ""]),
  );
}

/** `vmres reservation cancel LABEL [--user ID]`: the person who booked, or an admin (on record, the person told). */
export const prepareReservationCancel: Prepare = (input) => {
  const label = labelArg(input);
  const actor = adminActor(input);
  return async ({ core }) => {
    const { cancelReservation } = await import("../../core/reservations.js");
    return outcomeOf(await cancelReservation(core, actor, label), userOf(actor), describeCancelled);
  };
};

function describeCancelled(c: Cancelled): string {
  const r = c.reservation;
  const whose = c.byAdmin && r.person ? ` (${personText(r.person)}'s, who is told)` : "";
  const kept = c.kept.length > 0 ? ` ${c.kept.join(", ")} already given stay checked out to ${r.person ? personText(r.person) : "the person"} until checked in or the lease ends.` : "";
  return `Cancelled the booking "${r.label}"${whose}: pool ${r.pool}, ${localTime(r.from)} to ${localTime(r.to)}.${kept}`;
}
