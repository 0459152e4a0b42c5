import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setProvisioning } from "../../src/core/provision/configure.js";
import { providerSettingsProblem } from "../../src/provision/providers.js";
import { dockerSkipReason } from "../docker/prerequisites.js";
import { cliFor } from "../helpers/cli.js";
import { lentVm, openDockerLab, sshRun, type DockerLab } from "../provision/docker-lab.js";
import { call, personWithToken, startApiHarness, type Harness } from "./helpers.js";

const skipReason = dockerSkipReason();

/**
 * A provisioned pool backed by real docker, over the HTTP API: a checkout
 * creates the VM and answers when SSH answers, `DELETE …?keep=true` answers
 * once the image is saved, a checkout with `restore` brings the person's file
 * back. Driven by the CLI over the API (VMRES_URL/VMRES_TOKEN), as a laptop or
 * a CI job would, plus the raw answers.
 */
describe.skipIf(skipReason !== null)("a provisioned pool over the API", () => {
  let lab: DockerLab;
  let h: Harness;
  let pool: string;
  let token: string;

  beforeAll(async () => {
    lab = await openDockerLab((line) => console.log(`provisioned API test: ${line}`));
    h = await startApiHarness({ PROVISION_POLL_INTERVAL_MS: "100", PROVISION_SSH_TIMEOUT_MS: "60000", PROVISION_MAX_ATTEMPTS: "1" });
    pool = lab.pool("api");
    const set = await setProvisioning(h.core, { person: "operator", source: "cli" }, pool, { provider: "docker", image: lab.image.reference, maxSize: 2, providerSettings: lab.settings }, providerSettingsProblem);
    expect(set.ok).toBe(true);
    token = (await personWithToken(h.core, "carol")).token;
  }, 20 * 60_000);

  afterAll(async () => {
    await h?.stop();
    await lab?.clean();
  }, 180_000);

  it("creates at checkout, saves at check-in with keep, restores the person's file", async () => {
    const vmres = cliFor({ env: { VMRES_URL: h.url, VMRES_TOKEN: token }, timeoutMs: 240_000 });
    const first = await vmres(["checkout", "--pool", pool]);
    expect(first.code, first.stderr).toBe(0);
    const vm = lentVm(first.stdout);
    expect(await lab.containers(pool)).toEqual([vm.name]);
    await sshRun(lab.image, vm.ip, "echo 'api run 12' > /root/notes.txt");

    const kept = await vmres(["checkin", vm.name, "--keep", "--json"]);
    expect(kept.code, kept.stderr).toBe(0);
    const done = JSON.parse(kept.stdout) as { pool: string; instance: { action: string; image: string } };
    expect(done).toMatchObject({ pool, instance: { action: "save" } });
    // Answered once saved: no container left, the image there.
    expect(await lab.containers(pool)).toEqual([]);
    expect(await lab.savedImages(pool)).toEqual([done.instance.image]);

    const again = await vmres(["checkout", "--pool", pool, "--restore"]);
    expect(again.code, again.stderr).toBe(0);
    const restored = lentVm(again.stdout);
    expect(await sshRun(lab.image, restored.ip, "cat /root/notes.txt")).toBe("api run 12\n");

    // The raw answers: a restore with no image of someone else's is a 404 problem; keep on a check-in with no provisioned pool is refused.
    const other = (await personWithToken(h.core, "dave")).token;
    const none = await call(h, "POST", "/v1/checkouts", { token: other, body: { pool, restore: true } });
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ code: "no_image", pool });
    const back = await vmres(["checkin", restored.name]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain("being deleted");
  }, 600_000);
});
