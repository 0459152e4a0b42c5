import { readFileSync } from "node:fs";
import { runOrThrow } from "./process.js";

/** What goes into one test host's sshd_config. */
export interface SshdSettings {
  hostKeyPath: string;
  authorizedKeysPath: string;
  /** Every command hangs: lets tests see a command timeout without a broken server. */
  hanging: boolean;
}

/**
 * A real VM's sshd, reduced to what the cleanup worker relies on: root by key
 * only, on port 22. The paths are the machine's, seen read-only inside the
 * host; the pid file goes to the host's private /run so two hosts never share one.
 */
export function sshdConfig(settings: SshdSettings): string {
  const lines = [
    "Port 22",
    "AddressFamily inet",
    "ListenAddress 0.0.0.0",
    `HostKey ${settings.hostKeyPath}`,
    "PidFile /run/sshd.pid",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "AuthenticationMethods publickey",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    `AuthorizedKeysFile ${settings.authorizedKeysPath}`,
    // The key files belong to the lab's directory, not to root's home, so sshd's ownership checks do not apply.
    "StrictModes no",
    "UsePAM no",
    "PrintMotd no",
    "LogLevel VERBOSE",
  ];
  if (settings.hanging) lines.push("ForceCommand /bin/sleep 1000");
  return lines.join("\n") + "\n";
}

/** Makes an ed25519 key pair without a passphrase at `path` and `path`.pub. */
export async function generateKey(path: string, comment: string): Promise<void> {
  await runOrThrow("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
}

/**
 * The key's fingerprint exactly as OpenSSH prints it (`SHA256:` and unpadded
 * base64). Taken from ssh-keygen rather than computed here, so tests check the
 * adapter's own computation against OpenSSH's.
 */
export async function fingerprintOf(publicKeyPath: string): Promise<string> {
  const out = await runOrThrow("ssh-keygen", ["-l", "-E", "sha256", "-f", publicKeyPath]);
  const fingerprint = out.split(" ")[1];
  if (!fingerprint?.startsWith("SHA256:")) throw new Error(`lab: unexpected ssh-keygen -l output: ${out}`);
  return fingerprint;
}

/** True once sshd has logged, since `fromOffset`, that it listens on IPv4 port 22. */
export function sshdIsListening(logPath: string, fromOffset: number): boolean {
  try {
    return readFileSync(logPath).subarray(fromOffset).toString().includes("Server listening on 0.0.0.0 port 22");
  } catch {
    return false;
  }
}

/** The end of a log, for error messages. */
export function logTail(logPath: string, fromOffset = 0): string {
  try {
    return readFileSync(logPath).subarray(fromOffset).toString().trim().split("\n").slice(-10).join("\n");
  } catch {
    return "(no log)";
  }
}
