import { z } from "zod";

/** Every button's action_id; the listeners register on these. */
export const ACTION = {
  checkin: "vm_checkin",
  homeCheckout: "home_checkout",
  homeReserve: "home_reserve",
  repair: "admin_repair",
  retryCleanup: "admin_retry_cleanup",
  drain: "admin_drain",
  undrain: "admin_undrain",
  history: "admin_history",
  poolHolders: "admin_pool_holders",
  /** Extend a lease by the pool's default (button) or by a chosen length (static_select). */
  extend: "lease_extend",
  extendChoice: "lease_extend_choice",
  /** Join a pool's queue from the "no VM free" answer. */
  notifyMe: "queue_notify_me",
  /** Leave a pool's queue (Home). */
  leaveQueue: "queue_leave",
  /** Answer an offer of a held VM. */
  takeOffer: "offer_take",
  passOffer: "offer_pass",
} as const;

/**
 * An Extend button (or one option of the Extend menu) names the checkout, so a
 * click after that checkout ended cannot extend a newer one; `by` in ms, absent: the pool's lease.
 */
export interface ExtendTarget {
  vm: string;
  checkout: number;
  by?: number | undefined;
}

const extendSchema = z.object({ vm: z.string().min(1).max(63), checkout: z.number().int().positive(), by: z.number().int().positive().optional() });

export function extendValue(target: ExtendTarget): string {
  return JSON.stringify(target.by === undefined ? { vm: target.vm, checkout: target.checkout } : target);
}

export function parseExtendValue(value: string | undefined): ExtendTarget | null {
  try {
    const parsed = extendSchema.safeParse(JSON.parse(value ?? ""));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Take it / Pass carry the waiter's id (the offer); the core checks it is the clicker's and still open. */
export function offerValue(waiterId: number): string {
  return String(waiterId);
}

export function parseOfferValue(value: string | undefined): number | null {
  return value !== undefined && /^[1-9]\d{0,15}$/.test(value) ? Number(value) : null;
}

/**
 * A Check in button names the VM and the checkout it belongs to, by id. A
 * click whose checkout is no longer the VM's open one is stale: the VM was
 * checked in since, perhaps checked out again. `checkout` null: the button
 * names none (those on DMs sent before checkouts had ids, whose value was
 * `{vm, at}`); its checkout is the one its message is recorded for.
 */
export interface CheckinTarget {
  vm: string;
  checkout: number | null;
}

const checkinValueSchema = z.object({ vm: z.string().min(1).max(63), checkout: z.number().int().positive().optional() });

export function checkinValue(vm: string, checkoutId: number): string {
  return JSON.stringify({ vm, checkout: checkoutId });
}

/** The button's target, or null for a value this version of vmres did not write. */
export function parseCheckinValue(value: string | undefined): CheckinTarget | null {
  try {
    const parsed = checkinValueSchema.safeParse(JSON.parse(value ?? ""));
    return parsed.success ? { vm: parsed.data.vm, checkout: parsed.data.checkout ?? null } : null;
  } catch {
    return null;
  }
}
