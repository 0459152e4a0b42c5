import { fileURLToPath } from "node:url";
import { isAlive, tail, waitFor } from "./command.js";
import type { TestDocker } from "./daemon.js";

/** The repository: the build context, as `docker build .` in it uses. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Every container, image and volume a test run makes carries this label with the run's pid, so leftovers of killed runs can be found. */
export const OWNER_LABEL = "vmres-test.owner";
/** The images the tests build, tagged with the building run's pid. */
const IMAGE_REPOSITORY = "vmres-test-image";
const BUILD_TIMEOUT_MS = 15 * 60_000;

/** What a test run made in the test dockerd; `clean()` removes it all. */
export interface TestRun {
  docker: TestDocker;
  /** A name unique to this run and purpose, e.g. `vmres-test-1234-db`. */
  name(purpose: string): string;
  /** Builds the repository's Dockerfile on the given base; returns the image's tag. */
  build(baseImage: string): Promise<string>;
  /** `docker run -d` with the run's label; returns the container's name. */
  start(purpose: string, args: readonly string[]): Promise<string>;
  /** `docker volume create` with the run's label. */
  volume(purpose: string): Promise<string>;
  clean(): Promise<void>;
}

export function testRun(docker: TestDocker): TestRun {
  const label = `${OWNER_LABEL}=${process.pid}`;
  const name = (purpose: string) => `vmres-test-${process.pid}-${purpose}`;
  return {
    docker,
    name,
    async build(baseImage) {
      const tag = `${IMAGE_REPOSITORY}:${process.pid}`;
      // The host's network for the build only: `npm ci` reaches the npm registry
      // as this machine does, with no bridge, NAT or forwarding set up for it.
      await docker.dockerOrThrow(["build", "--network=host", "--build-arg", `BASE_IMAGE=${baseImage}`, "--label", label, "--tag", tag, ROOT], {
        timeoutMs: BUILD_TIMEOUT_MS,
      });
      return tag;
    },
    async start(purpose, args) {
      const container = name(purpose);
      await docker.dockerOrThrow(["run", "--detach", "--name", container, "--label", label, ...args]);
      return container;
    },
    async volume(purpose) {
      const volume = name(purpose);
      await docker.dockerOrThrow(["volume", "create", "--label", label, volume]);
      return volume;
    },
    clean: () => removeOwnedBy(docker, (pid) => pid === process.pid),
  };
}

/** Removes what test runs that are no longer alive left behind (killed, or stopped by a timeout), and unused build layers older than a day. */
export async function removeLeftovers(docker: TestDocker): Promise<void> {
  await removeOwnedBy(docker, (pid) => pid !== process.pid && !isAlive(pid));
  // The build stage's layers stay as build cache (so an unchanged package-lock.json
  // skips `npm ci`); pruning those made over a day ago bounds the space they take.
  await docker.docker(["image", "prune", "--force", "--filter", "until=24h"], { timeoutMs: 120_000 });
}

async function removeOwnedBy(docker: TestDocker, owned: (pid: number) => boolean): Promise<void> {
  // Containers and volumes carry the label; the images built are named by the run's pid.
  const list = async (args: readonly string[], format: string) =>
    (await docker.dockerOrThrow([...args, "--format", format]))
      .split("\n")
      .map((line) => line.trim().split(" "))
      .filter((parts): parts is [string, string] => parts.length === 2 && owned(Number(parts[1])))
      .map(([id]) => id);
  const byLabel = ["--filter", `label=${OWNER_LABEL}`];
  const containers = await list(["container", "ls", "--all", ...byLabel], `{{.Names}} {{.Label "${OWNER_LABEL}"}}`);
  if (containers.length > 0) await docker.docker(["container", "rm", "--force", "--volumes", ...containers], { timeoutMs: 120_000 });
  const volumes = await list(["volume", "ls", ...byLabel], `{{.Name}} {{.Label "${OWNER_LABEL}"}}`);
  if (volumes.length > 0) await docker.docker(["volume", "rm", "--force", ...volumes]);
  const images = await list(["image", "ls", "--filter", `reference=${IMAGE_REPOSITORY}`], "{{.Repository}}:{{.Tag}} {{.Tag}}");
  if (images.length > 0) await docker.docker(["image", "rm", "--force", ...images], { timeoutMs: 120_000 });
}

/** The container's health as Docker reports it from the image's HEALTHCHECK: starting, healthy or unhealthy. */
export async function healthOf(docker: TestDocker, container: string): Promise<string> {
  return (await docker.dockerOrThrow(["container", "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", container])).trim();
}

/** What the container logged so far (vmres logs JSON lines on stderr). */
export async function logsOf(docker: TestDocker, container: string): Promise<string> {
  const out = await docker.docker(["logs", container]);
  return tail(out, 6000);
}

/** Waits until the service in the container says it is running; fails early, with its logs, if the container stops. */
export async function waitUntilRunning(docker: TestDocker, container: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${container} to log "vmres is running"`, timeoutMs, async () => {
    const logs = await docker.docker(["logs", container]);
    if (logs.stderr.includes('"msg":"vmres is running"')) return true;
    const state = (await docker.dockerOrThrow(["container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container])).trim();
    if (!state.startsWith("running")) throw new Error(`${container} stopped (${state}) before it was running:\n${tail(logs, 6000)}`);
    return undefined;
  }, 250).catch(async (err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${await logsOf(docker, container)}`, { cause: err });
  });
}
