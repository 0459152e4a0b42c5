import { LABELS, ProviderError } from "./provider.js";

/**
 * Whether a container or image on a provider is this installation's to lend,
 * save over or delete. Ours: it carries our `vmres.installation` label. A
 * thing labelled by another installation, or by nobody (a person's own
 * container that happens to have an instance's name), is refused.
 *
 * One allowance for what vmres made before installations had ids (labels
 * cannot be added to a container or image later): a container with the
 * `vmres.instance` label and no installation label is ours when vmres names
 * it by the container id a create of ours recorded, and an image with the
 * vmres labels and no installation label is ours to delete. Such a container
 * is never adopted by name, and such an image never returned as a save's.
 */
export interface Owned {
  kind: "container" | "image";
  /** What the caller asked for (a name, an id, a tag), for the message. */
  asked: string;
  labels: Record<string, string> | null | undefined;
  /** Legacy allowance applies (see above). */
  legacy: boolean;
}

/** Null when ours, else why not, in words for the admin channel. */
export function whyNotOurs(thing: Owned, installation: string): string | null {
  const labels = thing.labels ?? {};
  const owner = labels[LABELS.installation];
  if (owner === installation) return null;
  if (owner !== undefined) return `it belongs to another vmres installation (${LABELS.installation}=${owner}; this one is ${installation})`;
  if (thing.legacy && labels[LABELS.instance] !== undefined) return null;
  return labels[LABELS.instance] !== undefined
    ? `it has no ${LABELS.installation} label (made by a vmres before installation ids, or by another tool), so this installation cannot tell it is its own`
    : `it carries no vmres labels: someone else's ${thing.kind} of that name`;
}

/** Throws the refusal (a ProviderError that is not retried) unless the thing is ours. */
export function assertOurs(thing: Owned, installation: string, refusing: string): void {
  const why = whyNotOurs(thing, installation);
  if (why) throw new ProviderError(`${thing.kind} ${thing.asked} is not this installation's: ${why}; vmres refuses to ${refusing} it`, { permanent: true });
}
