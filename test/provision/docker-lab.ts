import { spawn } from "node:child_process";
import { TEST_DOCKER, openTestDocker, type TestDocker } from "../docker/daemon.js";
import { ensureSshImage, type SshImage } from "../docker/ssh-image.js";
import { isAlive } from "../docker/command.js";

/**
 * The test dockerd with the sshd test image, for provisioned pools: every
 * pool a test makes is named by the test run (`<purpose><pid>`) so two runs on
 * one dockerd never list or delete each other's instances. `clean()` removes
 * the containers and saved images of those pools.
 */
export interface DockerLab {
  docker: TestDocker;
  image: SshImage;
  /** provider_settings of a docker pool on the test dockerd. */
  settings: { socket: string; imageRepository: string };
  pool(purpose: string): string;
  /** Names of the containers of a pool, as `docker ps -a` lists them by the vmres label. */
  containers(pool: string): Promise<string[]>;
  savedImages(pool: string): Promise<string[]>;
  clean(): Promise<void>;
}

export async function openDockerLab(log: (line: string) => void = () => {}): Promise<DockerLab> {
  const docker = await openTestDocker();
  await removeLeftovers(docker);
  const image = await ensureSshImage(docker, log);
  const pools: string[] = [];
  const imageRepository = `vmres-test-saved-${process.pid}`;
  const containers = async (pool: string) =>
    (await docker.dockerOrThrow(["container", "ls", "--all", "--filter", `label=vmres.pool=${pool}`, "--format", "{{.Names}}"])).split("\n").filter(Boolean).sort();
  const savedImages = async (pool: string) =>
    (await docker.dockerOrThrow(["image", "ls", "--filter", `reference=${imageRepository}`, "--format", "{{.Tag}}"]))
      .split("\n")
      .filter((tag) => tag.startsWith(`${pool}-`))
      .sort();
  return {
    docker,
    image,
    settings: { socket: TEST_DOCKER.socket, imageRepository },
    pool(purpose) {
      const name = `${purpose}${process.pid}`;
      pools.push(name);
      return name;
    },
    containers,
    savedImages,
    async clean() {
      try {
        for (const pool of pools) {
          const names = await containers(pool);
          if (names.length > 0) await docker.docker(["container", "rm", "--force", ...names], { timeoutMs: 120_000 });
        }
        const tags = (await docker.dockerOrThrow(["image", "ls", "--filter", `reference=${imageRepository}`, "--format", "{{.Repository}}:{{.Tag}}"])).split("\n").filter(Boolean);
        if (tags.length > 0) await docker.docker(["image", "rm", "--force", ...tags], { timeoutMs: 120_000 });
      } finally {
        await docker.release();
      }
    },
  };
}

/**
 * What runs that died left (killed before their clean-up): containers of pools
 * named `<purpose><pid>` and images in `vmres-test-saved-<pid>` whose pid is gone.
 */
async function removeLeftovers(docker: TestDocker): Promise<void> {
  const dead = (pid: string | undefined) => pid !== undefined && Number(pid) !== process.pid && !isAlive(Number(pid));
  const containers = (await docker.dockerOrThrow(["container", "ls", "--all", "--filter", "label=vmres.pool", "--format", '{{.Names}} {{.Label "vmres.pool"}}']))
    .split("\n")
    .map((line) => line.split(" "))
    .filter(([, pool]) => dead(pool?.match(/^[a-z]+(\d+)$/)?.[1]))
    .map(([name]) => name as string);
  if (containers.length > 0) await docker.docker(["container", "rm", "--force", ...containers], { timeoutMs: 120_000 });
  const images = (await docker.dockerOrThrow(["image", "ls", "--filter", "reference=vmres-test-saved-*", "--format", "{{.Repository}}:{{.Tag}}"]))
    .split("\n")
    .filter((ref) => dead(ref.match(/^vmres-test-saved-(\d+):/)?.[1]));
  if (images.length > 0) await docker.docker(["image", "rm", "--force", ...images], { timeoutMs: 120_000 });
}

/** Runs a command over SSH on a lent VM as the test image's root, with the key it trusts; returns stdout (throws on a non-zero exit). */
export function sshRun(image: SshImage, ip: string, command: string, port = 22): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "ssh",
      ["-i", image.privateKeyFile, "-p", String(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", `root@${ip}`, command],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`ssh root@${ip} ${command}: exit ${code}: ${err}`));
    });
  });
}

/** The VM name and IP a CLI checkout printed ("Checked out NAME (pool …" and "ssh root@IP -p 22"). */
export function lentVm(stdout: string): { name: string; ip: string } {
  const name = stdout.match(/Checked out (\S+) \(pool/)?.[1];
  const ip = stdout.match(/ssh \S+@(\S+) -p/)?.[1];
  if (!name || !ip) throw new Error(`no VM in the checkout's output:\n${stdout}`);
  return { name, ip };
}
