import { personText } from "../../core/people.js";
import type { Cancelled, Reservation } from "../../core/reservations.js";
import { UsageError } from "../args.js";
import { outcomeOf, outcomeOfAnswer, type Prepare, type RemotePrepare } from "../command.js";
import { table } from "../table.js";
import { localTime, timeText } from "../times.js";
import { adminActor, countOption, vmOptions, flag, isoTimeOption, labelArg, labelOption, noteOption, operatorNote, optionalUser, poolOption, recipientActor, requiredUser, userOf } from "../values.js";
import { vmresCommand } from "../invocation.js";
import { cleanupBlockedWarning } from "./checkout.js";

/**
 * `vmres reserve --user ID --pool P --count N --from ISO --to ISO --label L [--note TEXT]`:
 * books VMs for later. Every value is checked before the database is opened.
 */
export const prepareReserve: Prepare = (input) => {
  const { user, request } = bookingOf(input, requiredUser(input));
  return async ({ core }) => {
    const { reserve } = await import("../../core/reservations.js");
    const result = await reserve(core, recipientActor(user), request);
    return outcomeOf(result, user, (r) => describeBooked(r, user));
  };
};

/** Over the API: `POST /v1/reservations` as the token's person. */
export const remoteReserve: RemotePrepare = (input) => {
  const { request } = bookingOf(input, optionalUser(input) ?? "me");
  const user = optionalUser(input);
  return async (remote) => {
    const [{ call }, { actingAs }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/person.js"), import("../remote/shapes.js")]);
    const who = await actingAs(remote, user, { needName: true });
    if ("kind" in who) return who;
    const body = { ...request, from: request.from.toISOString(), to: request.to.toISOString(), ...(request.note === undefined ? {} : { note: request.note }) };
    const booked = await call(remote, (init) => remote.client.POST("/v1/reservations", { ...init, body }), { changes: true });
    return outcomeOfAnswer(booked, who.name, shapes.reservation, (r) => describeBooked(r, who.name ?? "you"));
  };
};

/** The booking the options ask for, checked before anything is opened or sent. */
function bookingOf(input: Parameters<Prepare>[0], user: string) {
  const pool = poolOption(input);
  const vms = vmOptions(input);
  const count = countOption(input) ?? vms?.length;
  if (vms !== undefined && count !== vms.length) throw new UsageError(`--count ${count} but ${vms.length} VM${vms.length === 1 ? "" : "s"} named with --vm: give the number of VMs named, or leave --count out`);
  if (vms !== undefined && new Set(vms).size !== vms.length) throw new UsageError("--vm: name each VM once");
  const from = isoTimeOption(input, "from");
  const to = isoTimeOption(input, "to");
  const label = labelOption(input);
  const note = noteOption(input);
  const missing = [pool === undefined && "--pool P", count === undefined && "--count N", from === undefined && "--from TIME", to === undefined && "--to TIME", label === undefined && "--label L"].filter(Boolean);
  if (missing.length > 0) {
    throw new UsageError(`${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} required: ${vmresCommand()} reserve --user ${user} --pool gpu --count 3 --from 2026-12-07T09:00+01:00 --to 2026-12-07T17:00+01:00 --label release-4.2`);
  }
  if (to!.getTime() <= from!.getTime()) throw new UsageError(`--to must be after --from (${localTime(from!)}): a booking runs from its start to its end`);
  return { user, request: { pool: pool!, count: count!, from: from!, to: to!, label: label!, note, ...(vms === undefined ? {} : { vms }) } };
}

function describeBooked(r: Reservation, user: string): string {
  return [
    `Booked "${r.label}" for ${user}: ${r.count} VM${r.count === 1 ? "" : "s"} of pool ${r.pool}, from ${timeText(r.from)} to ${localTime(r.to)}.`,
    `Held: ${r.vms.join(", ")}. At the start they become ${user}'s checkouts until the end (the IPs by DM in Slack; ${vmresCommand()} list --user ${user} shows them).`,
    `Cancel it with: ${vmresCommand()} reservation cancel ${r.label} --user ${user}`,
    ...(r.cleanupBlocked ? [cleanupBlockedWarning(r.pool)] : []),
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

/** Over the API: `GET /v1/reservations` with the same filters, as the token's person may see them. */
export const remoteReservations: RemotePrepare = (input) => {
  const label = labelOption(input);
  const user = optionalUser(input);
  const pool = poolOption(input);
  const all = flag(input, "all");
  return async (remote) => {
    const [{ call }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/shapes.js")]);
    const query = { ...(label === undefined ? {} : { label }), ...(user === undefined ? {} : { user }), ...(pool === undefined ? {} : { pool }), ...(all ? { all: "true" as const } : {}) };
    const list = await call(remote, (init) => remote.client.GET("/v1/reservations", { ...init, params: { query } }));
    return outcomeOfAnswer(list, user ?? null, (l) => l.map(shapes.reservation), (l) => describeList(l, all));
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
    return outcomeOf(await cancelReservation(core, actor, label), userOf(actor), (c) => describeCancelled(c, operatorNote(actor, c.byAdmin)));
  };
};

/** Over the API: `DELETE /v1/reservations/{label}` as the token's person (an admin's token cancels anyone's). */
export const remoteReservationCancel: RemotePrepare = (input) => {
  const label = labelArg(input);
  const user = optionalUser(input);
  return async (remote) => {
    const [{ call }, { actingAs }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/person.js"), import("../remote/shapes.js")]);
    const who = await actingAs(remote, user);
    if ("kind" in who) return who;
    const cancelled = await call(remote, (init) => remote.client.DELETE("/v1/reservations/{label}", { ...init, params: { path: { label } } }), { changes: true });
    return outcomeOfAnswer(cancelled, who.name, (c) => ({ ...c, reservation: shapes.reservation(c.reservation) }), describeCancelled);
  };
};

function describeCancelled(c: Cancelled, note = ""): string {
  const r = c.reservation;
  const whose = c.byAdmin && r.person ? ` (${personText(r.person)}'s, who is told)` : "";
  const kept = c.kept.length > 0 ? ` ${c.kept.join(", ")} already given stay checked out to ${r.person ? personText(r.person) : "the person"} until checked in or the lease ends.` : "";
  return `Cancelled the booking "${r.label}"${whose}: pool ${r.pool}, ${localTime(r.from)} to ${localTime(r.to)}.${kept}${note}`;
}
