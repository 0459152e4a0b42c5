import Docker from "dockerode";
import { z } from "zod";
import { LABELS, ProviderError, withTimeout, type CreatedMachine, type ListedMachine, type Provider } from "./provider.js";

/** A docker pool's `provider_settings`. */
export const dockerSettingsSchema = z
  .object({
    /** The Docker Engine's socket. */
    socket: z.string().min(1).default("/var/run/docker.sock"),
    /** Network to attach instances to (default: the daemon's default bridge). */
    network: z.string().min(1).optional(),
    sshUser: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/).default("root"),
    sshPort: z.number().int().min(1).max(65535).default(22),
    /** Repository saved images are committed to (tagged with the image's name). */
    imageRepository: z.string().regex(/^[a-z0-9][a-z0-9._/-]{0,127}$/).default("vmres-saved"),
  })
  .strict();
export type DockerSettings = z.infer<typeof dockerSettingsSchema>;

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number } | null)?.statusCode;

/**
 * Instances as containers (the image runs sshd), images by `docker commit`,
 * through dockerode. Every call is idempotent: a container is created under
 * the instance's name (a second create finds it), stop/delete of a missing
 * one succeed, a commit whose tag exists returns it.
 */
export function dockerProvider(settings: DockerSettings, timeoutMs: number): Provider {
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

  return {
    create: ({ name, source, pool }) =>
      call(`create ${name}`, async (): Promise<CreatedMachine> => {
        let container = docker.getContainer(name);
        let info = await container.inspect().catch((err: unknown) => {
          if (statusOf(err) === 404) return null;
          throw err;
        });
        if (!info) {
          container = await docker.createContainer({
            name,
            Image: source,
            Hostname: name.slice(0, 63),
            Labels: { [LABELS.instance]: name, [LABELS.pool]: pool },
            HostConfig: settings.network ? { NetworkMode: settings.network } : {},
          });
          info = await container.inspect();
        }
        if (!info.State.Running) await container.start().catch((err: unknown) => {
          if (statusOf(err) !== 304) throw err; // 304: started meanwhile
        });
        return { ref: info.Id, ip: await addressOf(info.Id), sshUser: settings.sshUser, sshPort: settings.sshPort };
      }),
    start: (ref) =>
      call(`start ${ref}`, async () => {
        await docker.getContainer(ref).start().catch((err: unknown) => {
          if (statusOf(err) !== 304) throw err;
        });
      }),
    stop: (ref) =>
      call(`stop ${ref}`, async () => {
        await docker.getContainer(ref).stop({ t: 10 }).catch((err: unknown) => {
          if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err;
        });
      }),
    delete: (ref) =>
      call(`delete ${ref}`, async () => {
        await docker.getContainer(ref).remove({ force: true, v: true }).catch((err: unknown) => {
          if (statusOf(err) !== 404) throw err;
        });
      }),
    saveImage: (ref, name) =>
      call(`save image ${name}`, async () => {
        const reference = `${settings.imageRepository}:${name}`;
        const existing = await docker.getImage(reference).inspect().catch((err: unknown) => {
          if (statusOf(err) === 404) return null;
          throw err;
        });
        if (existing) return reference;
        await docker.getContainer(ref).commit({ repo: settings.imageRepository, tag: name, pause: false });
        return reference;
      }),
    deleteImage: (ref) =>
      call(`delete image ${ref}`, async () => {
        await docker.getImage(ref).remove({ force: true }).catch((err: unknown) => {
          if (statusOf(err) !== 404) throw err;
        });
      }),
    list: (pool) =>
      call(`list ${pool}`, async (): Promise<ListedMachine[]> => {
        const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.pool}=${pool}`] } });
        return containers.map((c) => ({ name: c.Labels[LABELS.instance] ?? (c.Names[0] ?? "").replace(/^\//, ""), ref: c.Id }));
      }),
  };
}
