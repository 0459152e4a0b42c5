import { asc } from "drizzle-orm";
import { pools, type PoolKind } from "../db/schema.js";
import { checkPoolName } from "./validate.js";
import { knownPools, listCheckouts, poolSummary, type CheckoutEntry, type PoolSummary } from "./queries.js";
import { listReservations, type Reservation } from "./reservations.js";
import { ok, refuse, type Actor, type Core, type Result } from "./types.js";
import { queueLengths } from "./waitlist.js";

/** A pool as the API shows it: counts by state, quota, and the leases in force (the pool's own, else the defaults). */
export interface PoolDetails extends PoolSummary {
  /** `provisioned`: a checkout with none ready creates a VM (or restores the person's saved image). */
  kind: PoolKind;
  leaseMs: number;
  maxLeaseMs: number;
  /** People in the pool's queue, and those of them a VM is held for now. */
  waiting: number;
  offered: number;
  /** The next booking not started yet (who booked as the viewer may see it), or null. */
  nextBooking: Pick<Reservation, "label" | "person" | "count" | "from" | "to"> | null;
}

/**
 * Every pool, or the one named; lease settings resolved against DEFAULT_LEASE and MAX_LEASE as
 * checkout applies them; the next booking as `viewer` may see it (HIDE_HOLDERS).
 */
export async function poolDetails(core: Core, viewer: Actor, name?: string): Promise<Result<PoolDetails[]>> {
  if (name !== undefined) {
    const bad = checkPoolName(name);
    if (bad) return refuse(bad);
  }
  const [summaries, settings, queues, bookings] = await Promise.all([
    poolSummary(core.db),
    core.db.select({ name: pools.name, kind: pools.kind, leaseSeconds: pools.leaseSeconds, maxLeaseSeconds: pools.maxLeaseSeconds }).from(pools).orderBy(asc(pools.name)),
    queueLengths(core),
    // Soonest first: the first booked one of a pool is its next.
    listReservations(core, viewer, { pool: name, limit: 1000 }),
  ]);
  const nextOf = new Map<string, PoolDetails["nextBooking"]>();
  for (const r of bookings.ok ? bookings.value : []) {
    if (r.state === "booked" && !nextOf.has(r.pool)) nextOf.set(r.pool, { label: r.label, person: r.person, count: r.count, from: r.from, to: r.to });
  }
  const queueOf = new Map(queues.map((q) => [q.pool, q]));
  const byName = new Map(settings.map((s) => [s.name, s]));
  const details = summaries
    .filter((s) => name === undefined || s.pool === name)
    .map((s) => {
      const own = byName.get(s.pool);
      const maxLeaseMs = own?.maxLeaseSeconds != null ? own.maxLeaseSeconds * 1000 : core.leases.maxMs;
      const leaseMs = Math.min(own?.leaseSeconds != null ? own.leaseSeconds * 1000 : core.leases.defaultMs, maxLeaseMs);
      return { ...s, kind: own?.kind ?? "static", leaseMs, maxLeaseMs, waiting: queueOf.get(s.pool)?.waiting ?? 0, offered: queueOf.get(s.pool)?.offered ?? 0, nextBooking: nextOf.get(s.pool) ?? null };
    });
  if (name !== undefined && details.length === 0) return refuse({ code: "unknown_pool", pool: name, known: await knownPools(core.db) });
  return ok(details);
}

/** One checkout by id, if the viewer may see it (HIDE_HOLDERS hides others' checkouts as it hides them from listings). */
export async function checkoutById(core: Core, viewer: Actor, id: number): Promise<Result<CheckoutEntry>> {
  const found = await listCheckouts(core, viewer, { id });
  if (!found.ok) return found;
  const [entry] = found.value;
  return entry ? ok(entry) : refuse({ code: "unknown_checkout", id });
}
