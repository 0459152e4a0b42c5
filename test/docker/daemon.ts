import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, runOrThrow, sleep, tail, waitFor, type CommandOutput } from "./command.js";
import { withLock } from "./lock.js";

const BRIDGE_ADDRESS = "203.0.113.129/26";

/**
 * Where the tests' own dockerd keeps everything, apart from any docker the
 * machine runs: its own socket, state and data folders. The data folder
 * persists, so the base image made once stays for the next runs.
 */
export const TEST_DOCKER = {
  socket: "/run/vmres-test-docker.sock",
  execRoot: "/run/vmres-test-docker",
  pidFile: "/run/vmres-test-docker.pid",
  /** {pid, keep} of a daemon this helper started; no file: started by someone else, never stopped here. */
  stateFile: "/run/vmres-test-docker.state.json",
  /** One file per process using the daemon (named by its pid): the last one to leave stops it. */
  usersDir: "/run/vmres-test-docker.users",
  lockFile: "/run/vmres-test-docker.lock",
  dataRoot: "/var/lib/vmres-test-docker",
  logFile: "/var/log/vmres-test-docker.log",
  /**
   * Addresses: 203.0.113.128/25 (TEST-NET-3, documentation space), the default
   * bridge on its lower half and networks made later (compose's) on its upper
   * half, so docker never takes a private range that a real network may use, nor
   * the machine's own 192.0.2.0/24. No iptables rules and no IP forwarding: the
   * tests' containers use the host's network, and nothing needs NAT.
   */
  flags: [
    `--bip=${BRIDGE_ADDRESS}`,
    "--default-address-pool=base=203.0.113.192/26,size=28",
    "--iptables=false",
    "--ip-forward=false",
    "--ip-masq=false",
  ],
} as const;

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const LOCK_TIMEOUT_MS = 120_000;

/** The tests' dockerd, and a docker client pointed at it. */
export interface TestDocker {
  /** Environment for the docker client: our socket, and a client config folder of our own (no credential helpers). */
  env: NodeJS.ProcessEnv;
  docker(args: readonly string[], opts?: { timeoutMs?: number; input?: string | Buffer; cwd?: string }): Promise<CommandOutput>;
  /** Like docker(), but a non-zero exit is an error carrying what docker printed. */
  dockerOrThrow(args: readonly string[], opts?: { timeoutMs?: number; input?: string | Buffer; cwd?: string }): Promise<string>;
  /** Leaves the daemon; the last user of a daemon this helper started stops it. */
  release(): Promise<void>;
}

interface DaemonState {
  pid: number;
  /** Started by hand (`test/docker/cli.ts up`): test runs leave it running. */
  keep: boolean;
}

/**
 * Joins the tests' dockerd, starting it when it does not answer. `keep`
 * marks a daemon started here as one to leave running (for work by hand).
 */
export async function openTestDocker(opts: { keep?: boolean } = {}): Promise<TestDocker> {
  const clientConfig = mkdtempSync(join(tmpdir(), "vmres-docker-client-"));
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${TEST_DOCKER.socket}`, DOCKER_CONFIG: clientConfig, DOCKER_CLI_HINTS: "false" };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  const docker: TestDocker["docker"] = (args, o = {}) => run("docker", args, { timeoutMs: o.timeoutMs ?? 60_000, env, input: o.input, cwd: o.cwd });
  const dockerOrThrow: TestDocker["dockerOrThrow"] = (args, o = {}) => runOrThrow("docker", args, { timeoutMs: o.timeoutMs ?? 60_000, env, input: o.input, cwd: o.cwd });
  const answers = async () => (await docker(["version", "--format", "{{.Server.Version}}"], { timeoutMs: 10_000 })).code === 0;

  await withLock(TEST_DOCKER.lockFile, "starting the test dockerd", LOCK_TIMEOUT_MS, async () => {
    mkdirSync(TEST_DOCKER.usersDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(TEST_DOCKER.usersDir, String(process.pid)), "");
    if (await answers()) return;
    const starting = readPid(TEST_DOCKER.pidFile);
    if (starting !== undefined && running(starting)) {
      await waitFor(`the test dockerd (pid ${starting}) to answer`, START_TIMEOUT_MS, async () => ((await answers()) ? true : undefined), 500);
      return;
    }
    await startDaemon(answers, opts.keep ?? false);
  }).catch((err: unknown) => {
    rmSync(join(TEST_DOCKER.usersDir, String(process.pid)), { force: true });
    rmSync(clientConfig, { recursive: true, force: true });
    throw err;
  });

  return {
    env,
    docker,
    dockerOrThrow,
    async release() {
      rmSync(clientConfig, { recursive: true, force: true });
      await withLock(TEST_DOCKER.lockFile, "stopping the test dockerd", LOCK_TIMEOUT_MS, stopIfUnused);
    },
  };
}

async function startDaemon(answers: () => Promise<boolean>, keep: boolean): Promise<void> {
  for (const dir of [TEST_DOCKER.dataRoot, TEST_DOCKER.execRoot]) mkdirSync(dir, { recursive: true, mode: 0o710 });
  const log = openSync(TEST_DOCKER.logFile, "w");
  const args = [
    `--host=unix://${TEST_DOCKER.socket}`,
    `--data-root=${TEST_DOCKER.dataRoot}`,
    `--exec-root=${TEST_DOCKER.execRoot}`,
    `--pidfile=${TEST_DOCKER.pidFile}`,
    ...TEST_DOCKER.flags,
  ];
  // Detached, in a session of its own: it outlives this test process when another run still uses it.
  const child = spawn("dockerd", args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited with ${code ?? signal}`));
  child.once("error", (err) => (exited = `could not start: ${err.message}`));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`dockerd could not start (is docker.io installed?); log: ${TEST_DOCKER.logFile}`);
  writeFileSync(TEST_DOCKER.stateFile, JSON.stringify({ pid, keep } satisfies DaemonState) + "\n", { mode: 0o600 });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers())) {
    if (exited !== undefined || Date.now() > deadline) {
      if (exited === undefined) stop(pid);
      rmSync(TEST_DOCKER.stateFile, { force: true });
      const why = exited ?? `did not answer within ${START_TIMEOUT_MS} ms`;
      throw new Error(`the test dockerd ${why}; the end of ${TEST_DOCKER.logFile}:\n${tail({ stdout: readLog(), stderr: "" })}`);
    }
    await sleep(250);
  }
}

/** Under the lock: forget this process and those that died; the last one stops a daemon this helper started (unless kept). */
async function stopIfUnused(): Promise<void> {
  rmSync(join(TEST_DOCKER.usersDir, String(process.pid)), { force: true });
  const users = existsSync(TEST_DOCKER.usersDir) ? readdirSync(TEST_DOCKER.usersDir) : [];
  let live = 0;
  for (const user of users) {
    if (running(Number(user))) live += 1;
    else rmSync(join(TEST_DOCKER.usersDir, user), { force: true });
  }
  if (live > 0) return;
  const state = readState();
  if (!state || state.keep) return;
  await stopDaemon(state.pid);
}

/** Stops the test dockerd started by this helper: by its pid, after checking that pid is still that dockerd. */
export async function stopDaemon(pid: number): Promise<void> {
  if (!isOurDockerd(pid)) {
    rmSync(TEST_DOCKER.stateFile, { force: true });
    return;
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (running(pid) && Date.now() < deadline) await sleep(100);
  if (running(pid)) {
    process.kill(pid, "SIGKILL");
    await sleep(500);
  }
  rmSync(TEST_DOCKER.stateFile, { force: true });
  await removeBridge();
}

/**
 * dockerd leaves its bridge behind when it stops, with its address and route:
 * remove it, but only when it carries our address (any other docker0 is not ours).
 */
async function removeBridge(): Promise<void> {
  const shown = await run("ip", ["-4", "-oneline", "address", "show", "dev", "docker0"], { timeoutMs: 10_000 }).catch(() => undefined);
  if (shown?.code === 0 && shown.stdout.includes(` ${BRIDGE_ADDRESS} `)) {
    await run("ip", ["link", "delete", "docker0"], { timeoutMs: 10_000 });
  }
}

/** The daemon's record, if this helper started the running one. */
export function readState(): DaemonState | undefined {
  try {
    const state = JSON.parse(readFileSync(TEST_DOCKER.stateFile, "utf8")) as Partial<DaemonState>;
    return typeof state.pid === "number" ? { pid: state.pid, keep: state.keep === true } : undefined;
  } catch {
    return undefined;
  }
}

function stop(pid: number): void {
  if (isOurDockerd(pid)) process.kill(pid, "SIGKILL");
}

/** The pid runs dockerd on our socket, so it is ours to stop and not some other docker of the machine. */
function isOurDockerd(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return /(^|\/)dockerd$/.test(argv[0] ?? "") && argv.includes(`--host=unix://${TEST_DOCKER.socket}`);
  } catch {
    return false;
  }
}

/** Whether the process exists and has not exited (a zombie waiting for its parent counts as gone). */
function running(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function readLog(): string {
  try {
    return readFileSync(TEST_DOCKER.logFile, "utf8");
  } catch {
    return "";
  }
}
