import { createHash } from "node:crypto";
import { Client, type ClientChannel } from "ssh2";

/** Where and as whom to run a command over SSH, and which host key to accept. */
export interface SshTarget {
  host: string;
  port: number;
  username: string;
  /** OpenSSH-format private key. */
  privateKey: Buffer | string;
  /** The pinned host key, as `ssh-keygen -lf` prints it (`SHA256:…`); null when none is recorded yet. */
  expectedFingerprint: string | null;
  /** With no pinned key: accept the key seen now (the caller records it) instead of refusing. */
  trustOnFirstUse: boolean;
}

/** Time limits of one remote command; 0 for keepaliveIntervalMs turns keepalives off. */
export interface SshTimeouts {
  /** TCP connect, key exchange and authentication together. */
  connectTimeoutMs: number;
  /** From login until the command's channel closes. */
  commandTimeoutMs: number;
  keepaliveIntervalMs: number;
}

/**
 * How running a remote command ended. Every expected outcome is a value; only
 * a bug throws. `seenFingerprint` is the host key presented by the server, once
 * the key exchange got that far. After a timeout or a connection lost mid-way
 * the command may have run in part.
 */
export type RemoteResult =
  | { kind: "ok"; stdout: string; stderr: string; seenFingerprint: string }
  | { kind: "exit_status"; code: number | null; signal: string | null; stdout: string; stderr: string; seenFingerprint: string }
  | { kind: "host_key_mismatch"; expectedFingerprint: string; seenFingerprint: string }
  | { kind: "host_key_unknown"; seenFingerprint: string }
  | { kind: "timeout"; message: string; stdout: string; stderr: string; seenFingerprint: string }
  | { kind: "connect_failed"; message: string; seenFingerprint: string | null }
  | { kind: "auth_failed"; message: string; seenFingerprint: string | null };

/** Output kept per stream; the end of the output is kept, as that is where errors and reports are. */
export const OUTPUT_CAP_BYTES = 64 * 1024;

/** How long a graceful disconnect may take before the socket is destroyed. */
const DISCONNECT_GRACE_MS = 1000;

/** A host key's fingerprint as OpenSSH prints it: SHA-256 of the key blob, unpadded base64. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** Keeps the last OUTPUT_CAP_BYTES of a stream. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * OUTPUT_CAP_BYTES) this.trim();
  }

  text(): string {
    this.trim();
    return Buffer.concat(this.chunks).toString("utf8");
  }

  private trim(): void {
    const all = Buffer.concat(this.chunks);
    const kept = all.length > OUTPUT_CAP_BYTES ? all.subarray(all.length - OUTPUT_CAP_BYTES) : all;
    this.chunks = [kept];
    this.size = kept.length;
  }
}

/**
 * Runs `command` on `target` once. The command is sent only after the host
 * key has been accepted, so a host that is not the one on record never sees it.
 */
export function runRemoteCommand(target: SshTarget, command: string, timeouts: SshTimeouts): Promise<RemoteResult> {
  return new Promise((resolve) => {
    const client = new Client();
    const stdout = new OutputTail();
    const stderr = new OutputTail();
    let seenFingerprint: string | null = null;
    // Set when the host key was refused: that, not ssh2's generic error, is the outcome.
    let refusal: RemoteResult | null = null;
    let loggedIn = false;
    let settled = false;
    let commandTimer: NodeJS.Timeout | undefined;

    const finish = (result: RemoteResult, graceful: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(commandTimer);
      if (graceful) {
        client.end();
        setTimeout(() => client.destroy(), DISCONNECT_GRACE_MS).unref();
      } else {
        client.destroy();
      }
      resolve(result);
    };
    const connectionLost = (message: string): RemoteResult =>
      refusal ?? { kind: "connect_failed", message, seenFingerprint };

    const verifyHostKey = (keyBlob: Buffer): boolean => {
      const seen = sshFingerprint(keyBlob);
      seenFingerprint = seen;
      if (target.expectedFingerprint === null) {
        if (target.trustOnFirstUse) return true;
        refusal = { kind: "host_key_unknown", seenFingerprint: seen };
        return false;
      }
      if (seen === target.expectedFingerprint) return true;
      refusal = { kind: "host_key_mismatch", expectedFingerprint: target.expectedFingerprint, seenFingerprint: seen };
      return false;
    };

    const onChannel = (error: Error | undefined, channel: ClientChannel): void => {
      if (error) {
        finish({ kind: "connect_failed", message: `could not start the command: ${error.message}`, seenFingerprint }, false);
        return;
      }
      let exit: { code: number | null; signal: string | null } = { code: null, signal: null };
      channel.on("data", (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      channel.on("exit", (code: number | null, signal?: string) => {
        exit = { code: typeof code === "number" ? code : null, signal: signal ?? null };
      });
      channel.on("close", () => {
        const seen = seenFingerprint as string;
        const output = { stdout: stdout.text(), stderr: stderr.text(), seenFingerprint: seen };
        if (exit.code === 0) finish({ kind: "ok", ...output }, true);
        else finish({ kind: "exit_status", ...exit, ...output }, true);
      });
    };

    client.on("ready", () => {
      loggedIn = true;
      commandTimer = setTimeout(() => {
        const seen = seenFingerprint as string;
        const message = `the command did not finish within ${timeouts.commandTimeoutMs} ms`;
        finish({ kind: "timeout", message, stdout: stdout.text(), stderr: stderr.text(), seenFingerprint: seen }, false);
      }, timeouts.commandTimeoutMs);
      client.exec(command, onChannel);
    });

    client.on("error", (error: Error & { level?: string }) => {
      if (refusal) finish(refusal, false);
      else if (error.level === "client-authentication") {
        finish({ kind: "auth_failed", message: error.message, seenFingerprint }, false);
      } else if (loggedIn && error.level === "client-timeout") {
        // Keepalives went unanswered while the command ran: the host or the network stopped responding.
        const message = `the connection stopped responding: ${error.message}`;
        finish({ kind: "timeout", message, stdout: stdout.text(), stderr: stderr.text(), seenFingerprint: seenFingerprint as string }, false);
      } else {
        finish(connectionLost(loggedIn ? `connection lost while the command ran: ${error.message}` : error.message), false);
      }
    });

    client.on("close", () => {
      finish(connectionLost(loggedIn ? "connection closed before the command finished" : "connection closed during the handshake"), false);
    });

    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        authHandler: ["publickey"],
        hostVerifier: verifyHostKey,
        readyTimeout: timeouts.connectTimeoutMs,
        keepaliveInterval: timeouts.keepaliveIntervalMs,
        keepaliveCountMax: 3,
      });
    } catch (error) {
      // ssh2 checks the private key before connecting; a key it cannot read is a login that cannot succeed.
      const message = error instanceof Error ? error.message : String(error);
      finish({ kind: "auth_failed", message: `the private key cannot be used: ${message}`, seenFingerprint: null }, false);
    }
  });
}

/** One line for logs, the events table and admin messages. */
export function describeRemoteResult(result: RemoteResult): string {
  switch (result.kind) {
    case "ok":
      return "command succeeded";
    case "exit_status": {
      const how = result.signal ? `was killed by signal ${result.signal}` : `exited with status ${result.code ?? "unknown"}`;
      const detail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-3).join(" | ");
      return `command ${how}${detail ? `: ${detail.slice(-500)}` : ""}`;
    }
    case "host_key_mismatch":
      return `host key mismatch: expected ${result.expectedFingerprint}, the host presented ${result.seenFingerprint}`;
    case "host_key_unknown":
      return `no host key on record and first-use trust is off; the host presented ${result.seenFingerprint}`;
    case "timeout": {
      // The guard says on stderr when it waited for an earlier cleanup, which is why an attempt can time out.
      const detail = result.stderr.trim().split("\n").slice(-3).join(" | ");
      return `timed out: ${result.message}${detail ? `: ${detail.slice(-500)}` : ""}`;
    }
    case "connect_failed":
      return `could not connect: ${result.message}`;
    case "auth_failed":
      return `login refused: ${result.message}`;
  }
}
