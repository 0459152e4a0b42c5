import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CLEANUP_COMMAND, parseCleanupReport } from "../../src/cleanup/cleanup-command.js";
import { runRemoteCommand, type RemoteResult } from "../../src/cleanup/ssh.js";
import { labSkipReason, startLab, type InsideProcess, type Lab, type LabHost } from "../lab/lab.js";

const skipReason = labSkipReason();

/** What a user leaves in /tmp: every kind of entry the cleanup must remove, in the order they are made. */
const LEFT_BEHIND: ReadonlyArray<{ path: string; make: "file" | "dir" } | { path: string; linkTo: string }> = [
  { path: "/tmp/plain.txt", make: "file" },
  { path: "/tmp/nested", make: "dir" },
  { path: "/tmp/nested/a", make: "dir" },
  { path: "/tmp/nested/a/b", make: "dir" },
  { path: "/tmp/nested/a/b/c.txt", make: "file" },
  // Kept names count only at the top of /tmp.
  { path: "/tmp/nested/systemd-private-deep", make: "dir" },
  { path: "/tmp/.hidden", make: "dir" },
  { path: "/tmp/.hidden/.deeper", make: "dir" },
  { path: "/tmp/.hidden/.deeper/x", make: "file" },
  { path: "/tmp/.hidden-file", make: "file" },
  { path: "/tmp/.X11-unix-lookalike", make: "file" },
  { path: "/tmp/with space", make: "file" },
  { path: "/tmp/-rf", make: "file" },
  { path: "/tmp/new\nline", make: "file" },
  { path: "/tmp/dir with\nnewline", make: "dir" },
  { path: "/tmp/dir with\nnewline/inside", make: "file" },
  { path: "/tmp/link-to-file", linkTo: "/root/target-file" },
  { path: "/tmp/link-to-dir", linkTo: "/root/target-dir" },
];

/** What systemd's services rely on: must survive, contents included. */
const KEPT = ["/tmp/systemd-private-abc-ssh.service-xyz/tmp/socket", "/tmp/.X11-unix/X0", "/tmp/.ICE-unix"];

describe.skipIf(skipReason !== null)("the default cleanup command on a real host's /tmp", () => {
  let lab: Lab;
  let host: LabHost;
  let clientKey: Buffer;

  beforeAll(async () => {
    lab = await startLab({ count: 1 });
    host = lab.hosts[0] as LabHost;
    clientKey = readFileSync(lab.clientKeyPath);
  });
  afterAll(async () => {
    await lab?.stop();
  });

  async function inside(...cmd: string[]): Promise<string> {
    const result = await host.exec(cmd);
    if (result.code !== 0) throw new Error(`${cmd.join(" ")} failed in ${host.name}: ${result.stderr}`);
    return result.stdout;
  }

  function cleanup(): Promise<RemoteResult> {
    const target = { host: host.ip, port: host.port, username: host.user, privateKey: clientKey, expectedFingerprint: host.hostKeyFingerprint, trustOnFirstUse: false };
    return runRemoteCommand(target, DEFAULT_CLEANUP_COMMAND, { connectTimeoutMs: 5000, commandTimeoutMs: 30_000, keepaliveIntervalMs: 1000 });
  }

  /** Every entry under `dir`, NUL-separated so names with newlines come back whole. */
  async function contents(dir = "/tmp"): Promise<string[]> {
    const out = await inside("find", dir, "-mindepth", "1", "-print0");
    return out.split("\0").filter(Boolean).sort();
  }

  it("empties /tmp except what running services keep, without following links out of it", async () => {
    await inside("mkdir", "-p", "/root/target-dir");
    await inside("touch", "/root/target-file", "/root/target-dir/inside");
    for (const entry of LEFT_BEHIND) {
      if ("linkTo" in entry) await inside("ln", "-s", "--", entry.linkTo, entry.path);
      else if (entry.make === "dir") await inside("mkdir", "--", entry.path);
      else await inside("touch", "--", entry.path);
    }
    for (const path of KEPT) {
      await inside("mkdir", "-p", "--", path.slice(0, path.lastIndexOf("/")));
      await inside("touch", "--", path);
    }
    // A process still writing to a file in /tmp: the cleanup must not trip over it.
    const writer: InsideProcess = await host.spawnInside(["sh", "-c", "exec 3>/tmp/open.txt; echo open; exec sleep 1000"], { readyWhen: "open" });
    try {
      const result = await cleanup();

      expect(result).toMatchObject({ kind: "ok" });
      const stdout = result.kind === "ok" ? result.stdout : "";
      expect(parseCleanupReport(stdout)).toEqual({ removed: LEFT_BEHIND.length + 1, kept: KEPT.length, remaining: 0 });
      expect(await contents()).toEqual(
        ["/tmp/.ICE-unix", "/tmp/.X11-unix", "/tmp/.X11-unix/X0", "/tmp/systemd-private-abc-ssh.service-xyz", "/tmp/systemd-private-abc-ssh.service-xyz/tmp", KEPT[0]].sort(),
      );
      // The links went; what they pointed at, outside /tmp, did not.
      expect(await contents("/root")).toEqual(["/root/target-dir", "/root/target-dir/inside", "/root/target-file"]);
      expect(await inside("readlink", `/proc/${writer.pid}/fd/3`)).toBe("/tmp/open.txt (deleted)\n");
    } finally {
      await writer.stop();
    }
  });

  it("reports nothing removed when run again", async () => {
    const result = await cleanup();
    expect(result.kind === "ok" && parseCleanupReport(result.stdout)).toEqual({ removed: 0, kept: KEPT.length, remaining: 0 });
  });

  it("does not enter a file system mounted under /tmp, and fails naming what remains", async () => {
    await inside("mkdir", "/tmp/mounted");
    await inside("mount", "-t", "tmpfs", "other-fs", "/tmp/mounted");
    await inside("touch", "/tmp/mounted/precious", "/tmp/loose");
    try {
      const result = await cleanup();
      expect(result).toMatchObject({ kind: "exit_status", code: 1 });
      expect(result.kind === "exit_status" && result.stderr).toMatch(/^\/tmp\/mounted$/m);
      expect(result.kind === "exit_status" && parseCleanupReport(result.stdout)).toEqual({ removed: 1, kept: KEPT.length, remaining: 1 });
      expect(await contents()).toContain("/tmp/mounted/precious");
      expect(await contents()).not.toContain("/tmp/loose");
    } finally {
      await inside("umount", "/tmp/mounted");
    }
  });
});

describe("parseCleanupReport", () => {
  it("reads the last report line and ignores other output", () => {
    expect(parseCleanupReport("noise\nvmres-cleanup removed=4 kept=1 remaining=0\n")).toEqual({ removed: 4, kept: 1, remaining: 0 });
  });
  it("finds no report in a custom command's output", () => {
    expect(parseCleanupReport("done\n")).toBeNull();
  });
});
