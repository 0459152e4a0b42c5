import { finishCreate, finishDelete, finishDeleteImage, finishSave, type Finished } from "../core/provision/finish.js";
import { recordImageRef, recordProviderRef, type JobClaim } from "../core/provision/jobs.js";
import type { Core } from "../core/types.js";
import type { Provider } from "./provider.js";
import type { ProvisionSettings } from "./settings.js";
import { waitForSsh } from "./ssh-ready.js";

/** Records a job's success under its claim, once its provider calls are done. */
export type FinishJob = () => Promise<Finished>;

/** Runs a write under the claim with no claim renewal under way (the runner's `JobContext.exclusive`). */
type Exclusive = <T>(write: () => Promise<T>) => Promise<T>;

/**
 * One claimed job's provider calls, in an order that makes a repeat safe: a
 * create finds the container it made before a crash, a save finds its image
 * and deletes an instance already deleted without complaint. Returns the
 * finish, which the core records under the claim once the runner has stopped
 * renewing it.
 */
export async function runJob(
  core: Core,
  provider: Provider,
  claim: JobClaim,
  settings: ProvisionSettings,
  exclusive: Exclusive = (write) => write(),
): Promise<FinishJob> {
  const { instance, image } = claim;
  switch (claim.kind) {
    case "create": {
      if (!instance) throw new Error(`create job ${claim.id} names no instance`);
      const made = await provider.create({ name: instance.name, source: instance.source, pool: claim.pool });
      await exclusive(() => recordProviderRef(core.db.$client, claim, made.ref));
      await waitForSsh(made.ip, made.sshPort, settings.sshTimeoutMs);
      return () => finishCreate(core, claim, { providerRef: made.ref, ip: made.ip, sshUser: made.sshUser, sshPort: made.sshPort });
    }
    case "save": {
      if (!instance || !image) throw new Error(`save job ${claim.id} names no instance or image`);
      const ref = instance.providerRef ?? instance.name;
      await provider.stop(ref);
      const imageRef = await provider.saveImage(ref, image.name);
      // Recorded before the delete: a crash between the two leaves the image known.
      await recordImageRef(core.db.$client, image.id, imageRef);
      await provider.delete(ref);
      return () => finishSave(core, claim, imageRef);
    }
    case "delete": {
      if (!instance) throw new Error(`delete job ${claim.id} names no instance`);
      await provider.delete(instance.providerRef ?? instance.name);
      return () => finishDelete(core, claim);
    }
    case "delete_image": {
      if (!image) throw new Error(`delete_image job ${claim.id} names no image`);
      await provider.deleteImage(image.providerRef ?? image.name);
      return () => finishDeleteImage(core, claim);
    }
  }
}
