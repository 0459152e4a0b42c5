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
 * A Check in button names the VM and the checkout it belongs to, by id. A
 * click whose checkout is no longer the VM's open one is stale: the VM was
 * checked in since, perhaps checked out again. Buttons sent by the release
 * before checkouts had ids name it by its start (epoch ms) and still work.
 */
export type CheckinTarget = { vm: string; checkout: number } | { vm: string; at: number };

const vmName = z.string().min(1).max(63);
const checkinValueSchema = z.union([
  z.object({ vm: vmName, checkout: z.number().int().positive() }),
  z.object({ vm: vmName, at: z.number().int().positive() }),
]);

export function checkinValue(vm: string, checkoutId: number): string {
  return JSON.stringify({ vm, checkout: checkoutId });
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
