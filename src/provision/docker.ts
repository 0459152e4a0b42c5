import Docker from "dockerode";
import * as z from "zod";
import { assertOurs } from "./ownership.js";
import { LABELS, ProviderError, withTimeout, type CreatedMachine, type ListedMachine, type Provider } from "./provider.js";
import { SSH_USER } from "../core/names.js";

/** A docker pool's `provider_settings`. */
export const dockerSettingsSchema = z
  .object({
    /** The Docker Engine's socket. */
    socket: z.string().min(1).default("/var/run/docker.sock"),
    /** Network to attach instances to (default: the daemon's default bridge). */
    network: z.string().min(1).optional(),
    sshUser: z.string().regex(SSH_USER).default("root"),
    sshPort: z.number().int().min(1).max(65535).default(22),
    /** Repository saved images are committed to (tagged with the image's name). */
    imageRepository: z.string().regex(/^[a-z0-9][a-z0-9._/-]{0,127}$/).default("vmres-saved"),
  })
  .strict();
export type DockerSettings = z.infer<typeof dockerSettingsSchema>;

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number } | null)?.statusCode;
/** Null for a 404 (missing), the error otherwise. */
const missing = (err: unknown): null => {
  if (statusOf(err) === 404) return null;
  throw err;
};

/**
 * Instances as containers (the image runs sshd), images by `docker commit`,
 * through dockerode. Every call is idempotent: a container is created under
 * the instance's name (a second create finds it), stop/delete of a missing
 * one succeed, a commit whose tag exists returns it. Every container and
 * image it makes carries this installation's id (`vmres.installation`), and
 * it refuses to adopt, stop, save, return or delete one that does not (see
 * ownership.ts): a daemon shared with another vmres, or with people, keeps
 * their containers theirs.
 */
export function dockerProvider(settings: DockerSettings, timeoutMs: number, installation: string): Provider {
  const docker = new Docker({ socketPath: settings.socket, timeout: timeoutMs });
  const call = <T>(step: string, work: () => Promise<T>) =>
    withTimeout(step, timeoutMs, work()).catch((err: unknown) => {
      throw err instanceof ProviderError ? err : new ProviderError(`docker ${step}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });

  async function addressOf(ref: string): Promise<string> {
    const info = await docker.getContainer(ref).inspect();
    const networks = info.NetworkSettings.Networks;
    const ip = (settings.network ? networks[settings.network]?.IPAddress : undefined) ?? Object.values(networks).find((n) => n.IPAddress)?.IPAddress;
    if (!ip) throw new ProviderError(`container ${info.Name} has no IP address on ${settings.network ?? "any network"}`);
    return ip;
  }

  /** The container `ref` if it exists and is ours (null: missing); a refusal otherwise. */
  async function ourContainer(ref: string, refusing: string): Promise<Docker.ContainerInspectInfo | null> {
    const info = await docker.getContainer(ref).inspect().catch(missing);
    // Named by the id a create recorded: a container made before installation ids is still ours.
    if (info) assertOurs({ kind: "container", asked: ref, labels: info.Config.Labels, legacy: info.Id === ref }, installation, refusing);
    return info;
  }

  return {
    create: ({ name, source, pool }) =>
      call(`create ${name}`, async (): Promise<CreatedMachine> => {
        let info = await docker.getContainer(name).inspect().catch(missing);
        if (info) {
          assertOurs({ kind: "container", asked: name, labels: info.Config.Labels, legacy: false }, installation, "lend (and later delete)");
          if (info.Config.Labels[LABELS.instance] !== name) throw new ProviderError(`container ${name} is this installation's instance ${info.Config.Labels[LABELS.instance] ?? "(none)"}, not ${name}; vmres refuses to lend it as ${name}`, { permanent: true });
        } else {
          const made = await docker.createContainer({
            name,
            Image: source,
            Hostname: name.slice(0, 63),
            Labels: { [LABELS.instance]: name, [LABELS.pool]: pool, [LABELS.installation]: installation },
            HostConfig: settings.network ? { NetworkMode: settings.network } : {},
          });
          info = await made.inspect();
        }
        if (!info.State.Running) await docker.getContainer(info.Id).start().catch((err: unknown) => {
          if (statusOf(err) !== 304) throw err; // 304: started meanwhile
        });
        return { ref: info.Id, ip: await addressOf(info.Id), sshUser: settings.sshUser, sshPort: settings.sshPort };
      }),
    start: (ref) =>
      call(`start ${ref}`, async () => {
        const info = await ourContainer(ref, "start");
        if (!info) throw new ProviderError(`container ${ref} is missing`);
        await docker.getContainer(info.Id).start().catch((err: unknown) => {
          if (statusOf(err) !== 304) throw err;
        });
      }),
    stop: (ref) =>
      call(`stop ${ref}`, async () => {
        const info = await ourContainer(ref, "stop");
        if (!info) return;
        await docker.getContainer(info.Id).stop({ t: 10 }).catch((err: unknown) => {
          if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err;
        });
      }),
    delete: (ref) =>
      call(`delete ${ref}`, async () => {
        const info = await ourContainer(ref, "delete");
        if (!info) return;
        await docker.getContainer(info.Id).remove({ force: true, v: true }).catch(missing);
      }),
    saveImage: (ref, name) =>
      call(`save image ${name}`, async () => {
        const reference = `${settings.imageRepository}:${name}`;
        const existing = await docker.getImage(reference).inspect().catch(missing);
        if (existing) {
          // Only an image of ours is a repeat of our own save; another's is never handed back as this person's.
          assertOurs({ kind: "image", asked: reference, labels: existing.Config.Labels, legacy: false }, installation, "return (as a save of ours)");
          return reference;
        }
        const info = await ourContainer(ref, "save");
        if (!info) throw new ProviderError(`container ${ref} is missing: nothing to save as ${reference}`);
        await docker.getContainer(info.Id).commit({ repo: settings.imageRepository, tag: name, pause: false, changes: `LABEL ${LABELS.installation}=${installation}` });
        return reference;
      }),
    deleteImage: (ref) =>
      call(`delete image ${ref}`, async () => {
        const existing = await docker.getImage(ref).inspect().catch(missing);
        if (!existing) return;
        // An image vmres committed before installation ids has the container's vmres labels only: still ours to delete.
        assertOurs({ kind: "image", asked: ref, labels: existing.Config.Labels, legacy: true }, installation, "delete");
        await docker.getImage(ref).remove({ force: true }).catch(missing);
      }),
    list: (pool) =>
      call(`list ${pool}`, async (): Promise<ListedMachine[]> => {
        const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.pool}=${pool}`, `${LABELS.installation}=${installation}`] } });
        return containers.map((c) => ({ name: c.Labels[LABELS.instance] ?? (c.Names[0] ?? "").replace(/^\//, ""), ref: c.Id }));
      }),
  };
}
