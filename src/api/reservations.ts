import { z } from "zod";
import { cancelReservation, listReservations, reserve, type Reservation } from "../core/reservations.js";
import { refuse } from "../core/types.js";
import { actorOf, answer, isoNow, json, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

export const reservationBody = (r: Reservation): z.infer<typeof s.reservation> => ({
  ...r,
  from: isoNow(r.from),
  to: isoNow(r.to),
  ranges: r.ranges.map((x) => ({ ...x, from: isoNow(x.from), to: isoNow(x.to) })),
  createdAt: isoNow(r.createdAt),
});

/**
 * Bookings in advance, as `/vm reserve` and `vmres reserve` make them: the
 * token's person books VMs of a pool for `[from, to)` under a label; the core
 * picks concrete VMs now and PostgreSQL refuses any overlap. A refusal
 * (`not_enough_free`) says how many are free and the nearest range that fits.
 */
export function reservationRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/reservations",
    {
      schema: {
        operationId: "listReservations",
        summary: "Bookings, soonest first (who booked is hidden by HIDE_HOLDERS but from admins and the person)",
        tags: ["reservations"],
        querystring: z.strictObject({
          label: z.string().max(63).optional(),
          user: z.string().max(200).optional().describe("only this person's (name or Slack ID); `me` for yourself"),
          pool: z.string().max(63).optional(),
          all: s.flagParam.optional().describe("true: ended and cancelled ones too"),
          from: s.timeInput.optional().describe("only bookings still running after this time (a calendar's window)"),
          to: s.timeInput.optional().describe("only bookings starting before this time"),
        }),
        response: responses({ 200: json("bookings, soonest first", z.array(s.reservation)) }, [404, 422]),
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const person = req.query.user === undefined ? undefined : req.query.user === "me" ? actor.person : { lookup: req.query.user };
      const found = await listReservations(core, actor, {
        label: req.query.label,
        person,
        pool: req.query.pool,
        all: req.query.all,
        endsAfter: req.query.from === undefined ? undefined : new Date(req.query.from),
        startsBefore: req.query.to === undefined ? undefined : new Date(req.query.to),
      });
      return answer(req, reply, found, (list) => list.map(reservationBody));
    },
  );
  v1.post(
    "/reservations",
    {
      schema: {
        operationId: "reserve",
        summary: "Book VMs of a pool for a time range, under a label",
        tags: ["reservations"],
        body: s.reservationRequest,
        response: responses({ 201: json("booked: the VMs held for the range", s.reservation) }, [404, 409, 422]),
      },
    },
    async (req, reply) => {
      const { pool, vms, from, to, label, note } = req.body;
      const count = req.body.count ?? vms?.length;
      if (count === undefined) return answer(req, reply, refuse({ code: "invalid_input", field: "count", message: "give how many VMs (count), or name them (vms)" }), () => null);
      const booked = await reserve(core, actorOf(req), { pool, count, from: new Date(from), to: new Date(to), label, note, vms });
      return answer(req, reply, booked, reservationBody, 201);
    },
  );
  v1.delete(
    "/reservations/:label",
    {
      schema: {
        operationId: "cancelReservation",
        summary: "Cancel a booking (yours; admins: anyone's, on record, the person told). VMs already given stay with the person",
        tags: ["reservations"],
        params: z.strictObject({ label: z.string().max(63) }),
        response: responses({ 200: json("the booking cancelled", s.reservationCancelled) }, [403, 404, 422]),
      },
    },
    async (req, reply) =>
      answer(req, reply, await cancelReservation(core, actorOf(req), req.params.label), (c) => ({ reservation: reservationBody(c.reservation), byAdmin: c.byAdmin, kept: c.kept })),
  );
}
