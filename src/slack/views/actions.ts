import { z } from "zod";

/** Every button's action_id; the listeners register on these. */
export const ACTION = {
  checkin: "vm_checkin",
  homeCheckout: "home_checkout",
  repair: "admin_repair",
  retryCleanup: "admin_retry_cleanup",
  drain: "admin_drain",
  undrain: "admin_undrain",
  history: "admin_history",
  poolHolders: "admin_pool_holders",
} as const;

/**
 * A Check in button names the VM and the checkout it belongs to (epoch ms of
 * the checkout). A click whose checkout is no longer the VM's current one is
 * stale: the VM was checked in since, perhaps checked out again.
 */
export interface CheckinTarget {
  vm: string;
  at: number;
}

const checkinValueSchema = z.object({ vm: z.string().min(1).max(63), at: z.number().int().positive() });

export function checkinValue(vm: string, checkedOutAt: Date | string): string {
  return JSON.stringify({ vm, at: new Date(checkedOutAt).getTime() });
}

/** The button's target, or null for a value this version of vmres did not write. */
export function parseCheckinValue(value: string | undefined): CheckinTarget | null {
  try {
    const parsed = checkinValueSchema.safeParse(JSON.parse(value ?? ""));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
