import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerSkipReason } from "../docker/prerequisites.js";
import { cliFor } from "../helpers/cli.js";
import { freshDatabase } from "../helpers/db.js";
import { lentVm, openDockerLab, sshRun, type DockerLab } from "./docker-lab.js";

const skipReason = dockerSkipReason();

describe.skipIf(skipReason !== null)("a provisioned pool backed by docker, through the CLI", () => {
  let lab: DockerLab;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let vmres: ReturnType<typeof cliFor>;
  let pool: string;

  beforeAll(async () => {
    lab = await openDockerLab((line) => console.log(`provisioned pool tests: ${line}`));
    database = await freshDatabase({ poolSize: 4 });
    vmres = cliFor({ databaseUrl: database.url, timeoutMs: 150_000, env: { PROVISION_SSH_TIMEOUT_MS: "60000", PROVIDER_TIMEOUT_MS: "60000" } });
    pool = lab.pool("cli");
    const set = await vmres([
      "pool", "set", pool, "--kind", "provisioned", "--provider", "docker", "--image", lab.image.reference, "--max-size", "2",
      "--provider-settings", JSON.stringify(lab.settings),
    ]);
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    expect((await vmres(["people", "add", "alice"])).code).toBe(0);
    expect((await vmres(["people", "add", "bob"])).code).toBe(0);
  }, 20 * 60_000);

  afterAll(async () => {
    await database?.close();
    await lab?.clean();
  }, 180_000);

  it("creates a VM for a checkout, saves it at checkin --keep, and restores it with the person's file", async () => {
    const first = await vmres(["checkout", "--user", "alice", "--pool", pool]);
    expect(first.stderr).toContain("Creating your VM");
    expect(first.code).toBe(0);
    const vm = lentVm(first.stdout);
    expect(vm.ip).toMatch(/^203\.0\.113\./);
    expect(await lab.containers(pool)).toEqual([vm.name]);
    await sshRun(lab.image, vm.ip, "echo 'results of run 7' > /root/notes.txt");

    const kept = await vmres(["checkin", vm.name, "--user", "alice", "--keep"]);
    expect(kept.code).toBe(0);
    const image = kept.stdout.match(/saved as image (\S+) and deleted/)?.[1];
    expect(image, kept.stdout + kept.stderr).toBeDefined();
    // Saved, then deleted: no container is left, the image is there.
    expect(await lab.containers(pool)).toEqual([]);
    expect(await lab.savedImages(pool)).toEqual([image]);
    const images = await vmres(["images", "--user", "alice"]);
    expect(images.stdout).toContain(image);
    expect(images.stdout).toMatch(/ready/);

    const again = await vmres(["checkout", "--user", "alice", "--pool", pool, "--restore"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`from your image ${image}`);
    const restored = lentVm(again.stdout);
    expect(restored.name).not.toBe(vm.name);
    expect(await sshRun(lab.image, restored.ip, "cat /root/notes.txt")).toBe("results of run 7\n");

    const plain = await vmres(["checkin", restored.name, "--user", "alice"]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("being deleted");
  }, 300_000);

  it("refuses a restore for someone with no saved image, and --keep on a static pool, changing nothing", async () => {
    const none = await vmres(["checkout", "--user", "bob", "--pool", pool, "--restore"]);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain("has no saved image");
    expect((await vmres(["pool", "add", "vm-static", "198.51.100.40", "--pool", "fixed"])).code).toBe(0);
    expect((await vmres(["checkout", "--user", "bob", "--pool", "fixed"])).code).toBe(0);
    const keep = await vmres(["checkin", "vm-static", "--user", "bob", "--keep"]);
    expect(keep.code).toBe(3);
    expect(keep.stderr).toContain("is not provisioned");
    const list = await vmres(["list", "--user", "bob"]);
    expect(list.stdout).toContain("vm-static");
  }, 120_000);

  it("refuses provider settings that are wrong, and a pool of fixed VMs becoming provisioned, changing nothing", async () => {
    const bad = await vmres(["pool", "set", "typo", "--kind", "provisioned", "--provider", "docker", "--image", "x:1", "--max-size", "1", "--provider-settings", '{"sokket":"/x"}']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain("provider-settings");
    expect(bad.stderr).toContain("sokket");
    const missing = await vmres(["pool", "set", "half", "--kind", "provisioned", "--provider", "docker"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("needs --image, --max-size");
    const fixed = await vmres(["pool", "set", "fixed", "--kind", "provisioned", "--provider", "docker", "--image", "x:1", "--max-size", "1"]);
    expect(fixed.code).toBe(3);
    expect(fixed.stderr).toContain("fixed VMs");
    const usage = await vmres(["pool", "set", "half", "--kind", "dynamic"]);
    expect(usage.code).toBe(2);
    const kinds = await database.sql<{ name: string; kind: string }[]>`select name, kind::text from pools where name in ('typo', 'half', 'fixed') order by name`;
    expect(kinds).toEqual([{ name: "fixed", kind: "static" }]);
  }, 120_000);

  it("lists a failed create with its error; an admin cannot retry it (it was undone) but can abandon it; a person deletes their image", async () => {
    const broken = lab.pool("clibad");
    const set = await vmres(["pool", "set", broken, "--kind", "provisioned", "--provider", "docker", "--image", "vmres-no-such-image:1", "--max-size", "1",
      "--provider-settings", JSON.stringify(lab.settings)]);
    expect(set.code).toBe(0);
    const failed = await vmres(["checkout", "--user", "bob", "--pool", broken], { env: { PROVISION_MAX_ATTEMPTS: "1" } });
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(/failed after 1 attempts: .*no such image/i);
    const jobs = await vmres(["jobs", "--failed", "--json"]);
    const [job] = JSON.parse(jobs.stdout) as { id: number; kind: string; lastError: string }[];
    expect(job).toMatchObject({ kind: "create", lastError: expect.stringMatching(/no such image/i) });
    const retry = await vmres(["jobs", "retry", String(job?.id)]);
    expect(retry.code).toBe(3);
    expect(retry.stderr).toContain("only a failed job can be retried");
    expect((await vmres(["jobs", "abandon", String(job?.id), "--user", "bob"])).code).toBe(3);
    const abandon = await vmres(["jobs", "abandon", String(job?.id)]);
    expect(abandon.code).toBe(0);
    expect((await vmres(["jobs", "--failed"])).stdout).toContain("No failed jobs.");

    const [image] = (await vmres(["images", "--user", "alice"])).stdout.match(new RegExp(`${pool}-alice-\\d+`)) ?? [];
    expect(image).toBeDefined();
    expect((await vmres(["images", "delete", String(image), "--user", "bob"])).code).toBe(3);
    const deleted = await vmres(["images", "delete", String(image), "--user", "alice"]);
    expect(deleted.code).toBe(0);
    expect((await vmres(["images", "--user", "alice"])).stdout).toMatch(/deleting|No saved images/);
  }, 180_000);

  it("refuses a checkout past max_size, saying so", async () => {
    // Two instances at most: alice's restored one may still be deleting, so hold two and ask for a third.
    const a = await vmres(["checkout", "--user", "alice", "--pool", pool]);
    const b = await vmres(["checkout", "--user", "bob", "--pool", pool]);
    const live = [a, b].filter((r) => r.code === 0).length;
    expect(live).toBeGreaterThanOrEqual(1);
    expect((await vmres(["people", "add", "carol"])).code).toBe(0);
    const third = await vmres(["checkout", "--user", "carol", "--pool", pool]);
    expect(third.code).toBe(3);
    expect(third.stderr).toMatch(/at its size limit: 2 of at most 2 instances/);
    const instances = await vmres(["instances"]);
    expect(instances.stdout.split("\n").filter((l) => l.startsWith(pool)).length).toBe(2);
  }, 300_000);
});
