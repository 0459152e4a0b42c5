import { readFileSync } from "node:fs";
import { utils } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRemoteCommand, type SshTarget, type SshTimeouts } from "../../src/cleanup/ssh.js";
import { labSkipReason, startLab, type Lab, type LabHost } from "../lab/lab.js";

const skipReason = labSkipReason();

const timeouts: SshTimeouts = { connectTimeoutMs: 5000, commandTimeoutMs: 10_000, keepaliveIntervalMs: 1000 };

describe.skipIf(skipReason !== null)("running a command over SSH on a real sshd", () => {
  let lab: Lab;
  let clientKey: Buffer;
  // Tests that restart sshd or change its keys get a host of their own, so a failure cannot leak into the others.
  let host: LabHost;
  let other: LabHost;

  beforeAll(async () => {
    lab = await startLab({ count: 2 });
    clientKey = readFileSync(lab.clientKeyPath);
    [host, other] = lab.hosts as [LabHost, LabHost];
  });
  afterAll(async () => {
    await lab?.stop();
  });

  function target(to: LabHost, overrides: Partial<SshTarget> = {}): SshTarget {
    return {
      host: to.ip,
      port: to.port,
      username: to.user,
      privateKey: clientKey,
      expectedFingerprint: to.hostKeyFingerprint,
      trustOnFirstUse: false,
      ...overrides,
    };
  }

  async function exists(on: LabHost, path: string): Promise<boolean> {
    return (await on.exec(["test", "-e", path])).code === 0;
  }

  it("runs the command on a host whose key matches the pinned fingerprint and returns its output", async () => {
    const result = await runRemoteCommand(target(host), "echo hello from $(hostname -I)", timeouts);
    expect(result).toEqual({
      kind: "ok",
      stdout: `hello from ${host.ip}\n`,
      stderr: "",
      seenFingerprint: host.hostKeyFingerprint,
    });
  });

  it("refuses a host presenting another key than the pinned one, without running the command", async () => {
    const result = await runRemoteCommand(target(host, { expectedFingerprint: other.hostKeyFingerprint }), "touch /tmp/ran-despite-mismatch", timeouts);
    expect(result).toEqual({
      kind: "host_key_mismatch",
      expectedFingerprint: other.hostKeyFingerprint,
      seenFingerprint: host.hostKeyFingerprint,
    });
    expect(await exists(host, "/tmp/ran-despite-mismatch")).toBe(false);
  });

  it("refuses a host whose key changed since it was pinned", async () => {
    const pinned = other.hostKeyFingerprint;
    await other.replaceHostKey();
    const result = await runRemoteCommand(target(other, { expectedFingerprint: pinned }), "touch /tmp/ran-after-key-change", timeouts);
    expect(result).toMatchObject({ kind: "host_key_mismatch", expectedFingerprint: pinned, seenFingerprint: other.hostKeyFingerprint });
    expect(await exists(other, "/tmp/ran-after-key-change")).toBe(false);
  });

  it("on first use with trust allowed, runs the command and reports the key it saw", async () => {
    const result = await runRemoteCommand(target(host, { expectedFingerprint: null, trustOnFirstUse: true }), "echo trusted", timeouts);
    expect(result).toMatchObject({ kind: "ok", stdout: "trusted\n", seenFingerprint: host.hostKeyFingerprint });
  });

  it("on first use without trust, refuses and reports the key it saw, without running the command", async () => {
    const result = await runRemoteCommand(target(host, { expectedFingerprint: null }), "touch /tmp/ran-unknown", timeouts);
    expect(result).toEqual({ kind: "host_key_unknown", seenFingerprint: host.hostKeyFingerprint });
    expect(await exists(host, "/tmp/ran-unknown")).toBe(false);
  });

  it("reports a failing command's exit status and error output", async () => {
    const result = await runRemoteCommand(target(host), "echo partial; echo broken >&2; exit 3", timeouts);
    expect(result).toMatchObject({ kind: "exit_status", code: 3, signal: null, stdout: "partial\n", stderr: "broken\n" });
  });

  it("keeps only the last 64 kB of a large output", async () => {
    const result = await runRemoteCommand(target(host), "head -c 200000 /dev/zero | tr '\\0' a; echo end", timeouts);
    expect(result.kind).toBe("ok");
    const stdout = result.kind === "ok" ? result.stdout : "";
    expect(stdout).toHaveLength(64 * 1024);
    expect(stdout.endsWith("aaaend\n")).toBe(true);
  });

  it("reports a login refused when the host does not accept the key", async () => {
    const stranger = utils.generateKeyPairSync("ed25519").private;
    const result = await runRemoteCommand(target(host, { privateKey: stranger }), "touch /tmp/ran-as-stranger", timeouts);
    expect(result).toMatchObject({ kind: "auth_failed", seenFingerprint: host.hostKeyFingerprint });
    expect(await exists(host, "/tmp/ran-as-stranger")).toBe(false);
  });

  it("reports a failed connection when sshd is not running", async () => {
    await other.stopSshd();
    try {
      const result = await runRemoteCommand(target(other), "true", timeouts);
      expect(result).toMatchObject({ kind: "connect_failed", seenFingerprint: null });
      expect(result.kind === "connect_failed" && result.message).toMatch(/ECONNREFUSED/);
    } finally {
      await other.startSshd();
    }
  });

  it("gives up on a host that accepts the connection but never speaks SSH, once the connect timeout has passed", async () => {
    const silent = await host.spawnInside(
      [process.execPath, "-e", 'require("node:net").createServer(() => {}).listen(2222, () => console.log("listening"))'],
      { readyWhen: "listening" },
    );
    try {
      const started = Date.now();
      const result = await runRemoteCommand(target(host, { port: 2222 }), "true", { ...timeouts, connectTimeoutMs: 500 });
      expect(result).toMatchObject({ kind: "connect_failed", seenFingerprint: null });
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await silent.stop();
    }
  });

  it("gives up on a command that hangs once the command timeout has passed", async () => {
    await other.setHanging(true);
    try {
      const started = Date.now();
      const result = await runRemoteCommand(target(other), "echo never", { ...timeouts, commandTimeoutMs: 1000 });
      const elapsed = Date.now() - started;
      expect(result).toMatchObject({ kind: "timeout", stdout: "", seenFingerprint: other.hostKeyFingerprint });
      expect(elapsed).toBeGreaterThanOrEqual(1000);
      // Connecting and logging in to a local sshd takes well under a second.
      expect(elapsed).toBeLessThan(3000);
    } finally {
      await other.setHanging(false);
    }
  });
});
