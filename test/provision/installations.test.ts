import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { installationId } from "../../src/core/provision/installation.js";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import type { Core } from "../../src/core/types.js";
import { dockerProvider, dockerSettingsSchema } from "../../src/provision/docker.js";
import { providerSettingsProblem } from "../../src/provision/providers.js";
import type { ProvisionSettings } from "../../src/provision/settings.js";
import { ProvisionWorker } from "../../src/provision/worker.js";
import { dockerSkipReason } from "../docker/prerequisites.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";
import { openDockerLab, type DockerLab } from "./docker-lab.js";

const skipReason = dockerSkipReason();

/** Two vmres installations (two ids) sharing the test dockerd. */
describe.skipIf(skipReason !== null)("two vmres installations on one Docker daemon", () => {
  let lab: DockerLab;
  const first = randomUUID();
  const second = randomUUID();
  const providerOf = (installation: string) => dockerProvider(dockerSettingsSchema.parse(lab.settings), 120_000, installation);
  /** The container's labels, or null when there is none of that name. */
  const containerLabels = async (name: string) => {
    const out = await lab.docker.docker(["container", "inspect", "--format", "{{json .Config.Labels}}", name]);
    return out.code === 0 ? (JSON.parse(out.stdout) as Record<string, string>) : null;
  };

  beforeAll(async () => {
    lab = await openDockerLab();
  }, 20 * 60_000);
  afterAll(async () => {
    await lab?.clean();
  }, 180_000);

  it("the second refuses to adopt, stop, save or delete the first's container, and to hand back or delete its image", async () => {
    const pool = lab.pool("twins");
    const name = `${pool}-1`;
    const a = providerOf(first);
    const b = providerOf(second);
    const made = await a.create({ name, source: lab.image.reference, pool });
    expect((await containerLabels(name))?.["vmres.installation"]).toBe(first);

    const refused = new RegExp(`container ${name} is not this installation's: it belongs to another vmres installation \\(vmres.installation=${first}; this one is ${second}\\)`);
    await expect(b.create({ name, source: lab.image.reference, pool })).rejects.toThrow(refused);
    await expect(b.delete(name)).rejects.toThrow(/refuses to delete it/);
    await expect(b.delete(made.ref)).rejects.toThrow(/belongs to another vmres installation/);
    await expect(b.stop(made.ref)).rejects.toThrow(/refuses to stop it/);
    await expect(b.saveImage(made.ref, `${pool}-b-1`)).rejects.toThrow(/refuses to save it/);
    expect(await b.list(pool)).toEqual([]);
    expect(await a.list(pool)).toEqual([{ name, ref: made.ref }]);

    // The first saves its instance; the second, saving one of its own under the same image name, gets no image of the first's.
    await a.stop(made.ref);
    const image = await a.saveImage(made.ref, `${pool}-alice-1`);
    const own = await b.create({ name: `${pool}-2`, source: lab.image.reference, pool });
    await expect(b.saveImage(own.ref, `${pool}-alice-1`)).rejects.toThrow(new RegExp(`image ${image} is not this installation's: it belongs to another vmres installation`));
    await expect(b.deleteImage(image)).rejects.toThrow(/refuses to delete it/);

    expect(await lab.containers(pool)).toEqual([name, `${pool}-2`]);
    expect(await lab.savedImages(pool)).toEqual([`${pool}-alice-1`]);
    expect(await a.saveImage(made.ref, `${pool}-alice-1`)).toBe(image); // the first's own repeat still finds it
    await a.deleteImage(image);
    expect(await lab.savedImages(pool)).toEqual([]);
  }, 240_000);

  it("a container someone made by hand under an instance's name is neither lent nor deleted", async () => {
    const pool = lab.pool("byhand");
    const name = `${pool}-1`;
    await lab.docker.dockerOrThrow(["create", "--name", name, lab.image.reference]);
    try {
      const b = providerOf(second);
      await expect(b.create({ name, source: lab.image.reference, pool })).rejects.toThrow(
        new RegExp(`container ${name} is not this installation's: it carries no vmres labels: someone else's container of that name; vmres refuses to lend`),
      );
      await expect(b.delete(name)).rejects.toThrow(/refuses to delete it/);
      const labels = await containerLabels(name);
      expect(labels).not.toBeNull(); // still there
      expect(labels?.["vmres.installation"]).toBeUndefined();
    } finally {
      await lab.docker.docker(["container", "rm", "--force", name]);
    }
  }, 120_000);

  it("what a vmres made before installation ids is deleted when named by the id it recorded, but never adopted by name", async () => {
    const pool = lab.pool("legacy");
    const name = `${pool}-1`;
    // As the previous release made them: the vmres labels, no installation id.
    const id = (await lab.docker.dockerOrThrow(["create", "--name", name, "--label", `vmres.instance=${name}`, "--label", `vmres.pool=${pool}`, lab.image.reference])).trim();
    const b = providerOf(second);
    await expect(b.create({ name, source: lab.image.reference, pool })).rejects.toThrow(/has no vmres.installation label .*; vmres refuses to lend/);
    await expect(b.delete(name)).rejects.toThrow(/refuses to delete it/);
    await b.stop(id);
    const image = await b.saveImage(id, `${pool}-old-1`);
    // An image the previous release committed: the container's vmres labels, no installation id.
    const older = `${lab.settings.imageRepository}:${pool}-old-0`;
    await lab.docker.dockerOrThrow(["commit", id, older]);
    await b.delete(id);
    expect(await containerLabels(name)).toBeNull();
    await b.deleteImage(older);
    await b.deleteImage(image);
    expect(await lab.savedImages(pool)).toEqual([]);
  }, 120_000);

  describe("the provisioner of the second installation", () => {
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let core: Core;
    beforeAll(async () => {
      database = await freshDatabase({ poolSize: 4 });
      core = coreFor(database);
    });
    afterAll(async () => {
      await database?.close();
    });

    it("fails the create that meets the first's container at once, names it to the admins, and leaves it running", async () => {
      const pool = lab.pool("shared");
      const set = await setProvisioning(core, { person: "operator", source: "cli" }, pool, {
        provider: "docker", image: lab.image.reference, maxSize: 2, providerSettings: lab.settings,
      }, providerSettingsProblem);
      expect(set.ok).toBe(true);
      const ours = await installationId(core.db);
      expect(ours).toMatch(/^[0-9a-f-]{36}$/);
      const settings: ProvisionSettings = {
        concurrency: 2, maxAttempts: 3, backoffMs: 0, providerTimeoutMs: 120_000, sshTimeoutMs: 60_000, pollMs: 100,
        claimTimeoutMs: 10_000, imageRetentionMs: 86_400_000, listIntervalMs: 0, orphans: "delete",
      };
      const worker = new ProvisionWorker({ core, log: testLog, instanceId: "second-installation", settings });
      const asked = await checkoutFromPool(core, { person: { slackUserId: "U0000001" }, source: "slack" }, { pool });
      if (!asked.ok || asked.value.kind !== "creating") throw new Error(`expected a create: ${JSON.stringify(asked)}`);
      const name = asked.value.creating.instance;
      // The first installation made its own instance of that name (the same pool name and sequence) on the same daemon.
      await providerOf(first).create({ name, source: lab.image.reference, pool });

      for (let i = 0; i < 5 && (await worker.runDue(pool)) > 0; i++);
      const jobs = await core.db.execute<{ kind: string; state: string; attempts: number; last_error: string }>(sql`
        select kind::text, state::text, attempts, last_error from provider_jobs where pool = ${pool} order by id`);
      // Not retried: a refusal would be refused again. The undo's delete is refused too.
      expect(jobs.map((j) => [j.kind, j.state, j.attempts])).toEqual([["create", "failed", 1], ["delete", "failed", 1]]);
      expect(jobs[0]?.last_error).toContain(`container ${name} is not this installation's: it belongs to another vmres installation (vmres.installation=${first}; this one is ${ours})`);
      const notices = await core.db.execute<{ payload: { job: string; error: string } }>(sql`
        select payload from outbox where kind = 'provision_failed' and payload->>'pool' = ${pool} order by id`);
      expect(notices.map((n) => n.payload.job)).toEqual(["create", "delete"]);
      expect(notices[0]?.payload.error).toContain(`container ${name} is not this installation's`);
      // The listing sees only its own installation's containers: the first's is no stray of the second's.
      expect(await worker.listProviders(true)).toEqual([]);
      expect((await containerLabels(name))?.["vmres.installation"]).toBe(first);
    }, 240_000);
  });
});
