import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { providerSettingsProblem } from "../../src/provision/providers.js";
import { dockerSkipReason } from "../docker/prerequisites.js";
import { ALICE, appHomeOpened } from "../helpers/slack-requests.js";
import { ADMIN, ADMIN_CHANNEL, eventually, slash, startHarness, textOf, waitForDm, type Harness } from "../slack/harness.js";
import { openDockerLab, sshRun, type DockerLab } from "./docker-lab.js";

const skipReason = dockerSkipReason();

describe.skipIf(skipReason !== null)("a provisioned pool backed by docker, through Slack", () => {
  let lab: DockerLab;
  let h: Harness;
  let pool: string;

  beforeAll(async () => {
    lab = await openDockerLab();
    h = await startHarness({ PROVISION_POLL_INTERVAL_MS: "100", PROVISION_SSH_TIMEOUT_MS: "60000", PROVISION_MAX_ATTEMPTS: "1" });
    await h.fake.waitFor("auth.test");
    pool = lab.pool("slack");
    const set = await setProvisioning(h.core, { person: "operator", source: "cli" }, pool, {
      provider: "docker", image: lab.image.reference, maxSize: 2, providerSettings: lab.settings,
    }, providerSettingsProblem);
    expect(set.ok).toBe(true);
  }, 20 * 60_000);

  afterAll(async () => {
    await h?.stop();
    await lab?.clean();
  }, 180_000);

  /** The VM name and IP of the n-th checkout DM to the person. */
  const dmVm = async (n: number) => {
    const dms = await waitForDm(h.fake, ALICE.id, n);
    const text = textOf(dms[n - 1]?.body ?? {});
    const ip = text.match(/ssh root@(\S+) -p 22/)?.[1];
    const name = text.match(new RegExp(`(${pool}-\\d+)`))?.[1];
    if (!ip || !name) throw new Error(`no VM in the DM: ${text}`);
    return { ip, name };
  };

  it("creates the VM (saying so), DMs its IP, saves it at /vm checkin --keep and restores the person's file with --restore", async () => {
    const reply = await slash(h, `checkout ${pool}`, ALICE.id);
    expect(textOf(reply.body)).toContain("Creating your VM");
    const first = await dmVm(1);
    await sshRun(lab.image, first.ip, "echo 'draft 3' > /root/paper.txt");

    const kept = await slash(h, `checkin ${first.name} --keep`, ALICE.id);
    expect(textOf(kept.body)).toMatch(/saves it as your image \*(\S+)\*/);
    await eventually("the image to be saved", async () => {
      const [row] = await h.core.db.execute<{ state: string }>(sql`select state::text from images where pool = ${pool}`);
      return row?.state === "ready";
    }, 60_000);
    expect(await lab.containers(pool)).toEqual([]);
    expect(textOf((await slash(h, "images", ALICE.id)).body)).toMatch(new RegExp(`${pool}-u\\S+-\\d+`));

    const restoring = await slash(h, `checkout ${pool} --restore`, ALICE.id);
    expect(textOf(restoring.body)).toMatch(/Creating your VM .* from your image/);
    const second = await dmVm(2);
    expect(second.name).not.toBe(first.name);
    expect(await sshRun(lab.image, second.ip, "cat /root/paper.txt")).toBe("draft 3\n");
  }, 300_000);

  it("shows admins the instances and jobs, and refuses those views to others", async () => {
    expect(textOf((await slash(h, "instances", ADMIN.id)).body)).toContain(pool);
    expect(textOf((await slash(h, "jobs", ADMIN.id)).body)).toMatch(/save .*done/);
    expect(textOf((await slash(h, "jobs", ALICE.id)).body)).toContain("Only vmres admins");
    h.fake.reset();
    await h.send(appHomeOpened({ user: ADMIN.id }));
    const [home] = await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === ADMIN.id);
    expect(textOf(home?.body ?? {})).toMatch(/\*Instances\* \(admins, 1\)[\s\S]*\*Saved images\* \(admins, 1\)[\s\S]*Failed provider jobs/);
    await h.send(appHomeOpened({ user: ALICE.id }));
    const [mine] = await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === ALICE.id);
    expect(textOf(mine?.body ?? {})).toContain("Your saved images");
    expect(textOf(mine?.body ?? {})).not.toContain("Instances");
  }, 60_000);

  it("tells the person and the admin channel when a create fails for good", async () => {
    const broken = lab.pool("slackbad");
    const set = await setProvisioning(h.core, { person: "operator", source: "cli" }, broken, {
      provider: "docker", image: "vmres-no-such-image:1", maxSize: 1, providerSettings: lab.settings,
    }, providerSettingsProblem);
    expect(set.ok).toBe(true);
    h.fake.reset();
    await slash(h, `checkout ${broken}`, ALICE.id);
    const [dm] = await waitForDm(h.fake, ALICE.id);
    expect(textOf(dm?.body ?? {})).toMatch(/could not create .*No such image|could not create .*no such image/i);
    await eventually("the admin channel to hear it", async () =>
      h.fake.calls("chat.postMessage").some((c) => c.body.channel === ADMIN_CHANNEL && textOf(c.body).includes("/vm jobs retry")), 20_000);
    expect(await lab.containers(broken)).toEqual([]);
    const [job] = await h.core.db.execute<{ id: number }>(sql`select id::int from provider_jobs where pool = ${broken} and state = 'failed'`);
    expect(textOf((await slash(h, `jobs abandon ${job?.id}`, ALICE.id)).body)).toContain("Only vmres admins");
    expect(textOf((await slash(h, "jobs --failed", ADMIN.id)).body)).toContain(`*${job?.id}* create`);
    expect(textOf((await slash(h, `jobs abandon ${job?.id}`, ADMIN.id)).body)).toContain(`Job ${job?.id} (create) is abandoned`);
    expect(textOf((await slash(h, "jobs abandon seven", ADMIN.id)).body)).toContain("is not a job id");
  }, 120_000);

  it("deletes one of the person's images with /vm images delete, and refuses someone else's", async () => {
    const [image] = await h.core.db.execute<{ name: string }>(sql`select name from images where pool = ${pool} and state = 'ready'`);
    expect(textOf((await slash(h, `images delete ${image?.name}`, "U0OTHER01")).body)).toContain("You have no image");
    expect(textOf((await slash(h, `images delete ${image?.name}`, ALICE.id)).body)).toContain(`Deleting image *${image?.name}*`);
    await eventually("the image to be deleted", async () => {
      const [row] = await h.core.db.execute<{ state: string }>(sql`select state::text from images where name = ${image?.name ?? ""}`);
      return row?.state === "deleted";
    }, 30_000);
    expect(await lab.savedImages(pool)).toEqual([]);
  }, 60_000);
});
