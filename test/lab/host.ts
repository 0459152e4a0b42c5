import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { insideHost, startHolder } from "./holder.js";
import { isAlive, run, sleep, waitFor, type CommandOutput } from "./process.js";
import type { SlotLayout } from "./slots.js";
import { fingerprintOf, generateKey, logTail, sshdConfig, sshdIsListening } from "./sshd.js";

/** A process a test started inside a host, e.g. one keeping a file in /tmp open. */
export interface InsideProcess {
  pid: number;
  /** What it printed on stdout so far. */
  output(): string;
  /** Kills it (and anything it started) and waits until it is gone. */
  stop(): Promise<void>;
}

/** One sshd test host: a network and mount namespace of its own, reachable at `ip`:22 as root by the lab's key. */
export interface LabHost {
  /** The host's network namespace, `vmres-lab-<slot>`. */
  readonly name: string;
  readonly ip: string;
  readonly port: 22;
  readonly user: "root";
  /** The current host key's fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64. */
  readonly hostKeyFingerprint: string;
  /** Runs a command inside the host's namespaces (as root, not over SSH), e.g. to prepare or inspect its /tmp. */
  exec(cmd: readonly string[]): Promise<CommandOutput>;
  /** Starts a long-running command inside the host; resolves once it has started, or printed `readyWhen`. */
  spawnInside(cmd: readonly string[], options?: { readyWhen?: string }): Promise<InsideProcess>;
  stopSshd(): Promise<void>;
  startSshd(): Promise<void>;
  /** Generates a new host key and restarts sshd, so the fingerprint changes. */
  replaceHostKey(): Promise<void>;
  /** While hanging, every command run over SSH sleeps instead of running; sshd restarts to apply it. */
  setHanging(hanging: boolean): Promise<void>;
}

/** Where a host keeps its files on the machine; the client key is the lab's, shared by all hosts. */
export interface HostFiles {
  dir: string;
  authorizedKeysPath: string;
}

const SSHD_START_TIMEOUT_MS = 10_000;
const SSHD_STOP_TIMEOUT_MS = 5_000;
const SPAWN_READY_TIMEOUT_MS = 10_000;

export class SshdTestHost implements LabHost {
  readonly port = 22 as const;
  readonly user = "root" as const;
  private holderPid = 0;
  private sshd: ChildProcess | null = null;
  private keyGeneration = 0;
  private hanging = false;
  private fingerprint = "";

  constructor(
    private readonly layout: SlotLayout,
    private readonly files: HostFiles,
  ) {}

  get name(): string {
    return this.layout.netns;
  }
  get ip(): string {
    return this.layout.hostIp;
  }
  get hostKeyFingerprint(): string {
    return this.fingerprint;
  }

  /** Makes the host's files and namespaces and starts sshd; the network namespace must exist already. */
  async start(protectedMounts: readonly string[], hanging: boolean): Promise<void> {
    mkdirSync(this.files.dir, { recursive: true });
    this.hanging = hanging;
    await this.newHostKey();
    this.writeConfig();
    this.holderPid = await startHolder(this.layout.netns, protectedMounts);
    await this.startSshd();
  }

  exec(cmd: readonly string[]): Promise<CommandOutput> {
    const { file, args } = insideHost(this.holderPid, cmd);
    return run(file, args);
  }

  async spawnInside(cmd: readonly string[], options: { readyWhen?: string } = {}): Promise<InsideProcess> {
    const { file, args } = insideHost(this.holderPid, cmd);
    // Its own process group, so stop() also ends whatever the command started.
    const child = spawn(file, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-65_536)));
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-65_536)));
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    const pid = child.pid as number;
    const stop = async (): Promise<void> => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      await closed;
    };
    const described = `\`${cmd.join(" ")}\` in ${this.name}`;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`lab: ${described} did not print "${options.readyWhen}" within ${SPAWN_READY_TIMEOUT_MS} ms`)), SPAWN_READY_TIMEOUT_MS);
        child.once("error", reject);
        child.once("spawn", () => (options.readyWhen === undefined ? resolve() : undefined));
        if (options.readyWhen !== undefined) {
          const readyWhen = options.readyWhen;
          child.stdout.on("data", () => (stdout.includes(readyWhen) ? resolve() : undefined));
        }
        child.once("exit", (code) => reject(new Error(`lab: ${described} exited with ${code}: ${stderr.trim()}`)));
      });
    } catch (error) {
      await stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    child.removeAllListeners("exit");
    return { pid, output: () => stdout, stop };
  }

  async startSshd(): Promise<void> {
    if (this.sshd) return;
    const logPath = join(this.files.dir, "sshd.log");
    const logFd = openSync(logPath, "a");
    const logOffset = statSync(logPath).size;
    const { file, args } = insideHost(this.holderPid, ["/usr/sbin/sshd", "-D", "-e", "-f", this.configPath()]);
    // Detached and logging to a file: under the CLI's `up` it must outlive the process that started it.
    const sshd = spawn(file, args, { detached: true, stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    sshd.unref();
    let spawnError: Error | null = null;
    sshd.once("error", (error) => (spawnError = error));
    this.sshd = sshd;
    await waitFor(`sshd in ${this.name} to listen`, SSHD_START_TIMEOUT_MS, () => {
      if (spawnError || sshd.exitCode !== null || sshd.signalCode !== null) {
        this.sshd = null;
        throw new Error(`lab: sshd in ${this.name} did not start: ${spawnError?.message ?? logTail(logPath, logOffset)}`);
      }
      return sshdIsListening(logPath, logOffset);
    });
  }

  async stopSshd(): Promise<void> {
    const sshd = this.sshd;
    if (!sshd?.pid) return;
    this.sshd = null;
    const pid = sshd.pid;
    const exited = () => sshd.exitCode !== null || sshd.signalCode !== null || !isAlive(pid);
    sshd.kill("SIGTERM");
    const deadline = Date.now() + SSHD_STOP_TIMEOUT_MS;
    while (!exited() && Date.now() < deadline) await sleep(10);
    if (!exited()) {
      sshd.kill("SIGKILL");
      await waitFor(`sshd in ${this.name} to exit`, SSHD_STOP_TIMEOUT_MS, exited);
    }
  }

  async replaceHostKey(): Promise<void> {
    const before = this.fingerprint;
    await this.newHostKey();
    if (this.fingerprint === before) throw new Error(`lab: new host key of ${this.name} has the old fingerprint`);
    await this.restartWithNewConfig();
  }

  async setHanging(hanging: boolean): Promise<void> {
    this.hanging = hanging;
    await this.restartWithNewConfig();
  }

  private async restartWithNewConfig(): Promise<void> {
    this.writeConfig();
    if (!this.sshd) return;
    await this.stopSshd();
    await this.startSshd();
  }

  private async newHostKey(): Promise<void> {
    rmSync(this.hostKeyPath(), { force: true });
    rmSync(`${this.hostKeyPath()}.pub`, { force: true });
    this.keyGeneration += 1;
    await generateKey(this.hostKeyPath(), `${this.name}-${this.keyGeneration}`);
    this.fingerprint = await fingerprintOf(`${this.hostKeyPath()}.pub`);
  }

  private writeConfig(): void {
    const config = sshdConfig({
      hostKeyPath: this.hostKeyPath(),
      authorizedKeysPath: this.files.authorizedKeysPath,
      hanging: this.hanging,
    });
    writeFileSync(this.configPath(), config);
  }

  private hostKeyPath(): string {
    return join(this.files.dir, `ssh_host_ed25519_key.${this.keyGeneration}`);
  }
  private configPath(): string {
    return join(this.files.dir, "sshd_config");
  }
}
