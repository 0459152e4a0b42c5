/**
 * Keys the CLI's --json keeps for one release under their old name, next to the new one, so
 * scripts written against the old name keep working while they move (docs/cli.md, "Deprecated").
 * Dependency-free: it loads with the commands that print VMs.
 */

/** A VM or checkout as --json prints it: `startedAt`, then `checkedOutAt` (deprecated, the same value). */
export type WithCheckedOutAt<T extends { startedAt: Date | null }> = T & { checkedOutAt: T["startedAt"] };

/**
 * Adds the deprecated `checkedOutAt` (the core's name before it said `startedAt`) right after
 * `startedAt`, so the object reads as before with the new key beside the old. Remove after one release.
 */
export function withCheckedOutAt<T extends { startedAt: Date | null }>(value: T): WithCheckedOutAt<T> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = v;
    if (key === "startedAt") out.checkedOutAt = v;
  }
  return out as WithCheckedOutAt<T>;
}
