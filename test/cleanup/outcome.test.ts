import { describe, expect, it } from "vitest";
import { outcomeOf } from "../../src/cleanup/clean-vm.js";

const seen = `SHA256:${"A".repeat(43)}`;
const pinned = `SHA256:${"B".repeat(43)}`;

describe("what an SSH result means for the VM", () => {
  it("a zero exit is a cleaned VM, with the default command's report when there is one", () => {
    expect(outcomeOf({ kind: "ok", stdout: "vmres-cleanup removed=3 kept=1 remaining=0\n", stderr: "", seenFingerprint: seen })).toEqual({
      kind: "cleaned",
      report: { removed: 3, kept: 1, remaining: 0 },
      seenFingerprint: seen,
    });
    expect(outcomeOf({ kind: "ok", stdout: "custom\n", stderr: "", seenFingerprint: seen })).toMatchObject({ kind: "cleaned", report: null });
  });

  it("a host presenting another key is refused at once, never retried", () => {
    expect(outcomeOf({ kind: "host_key_mismatch", expectedFingerprint: pinned, seenFingerprint: seen })).toEqual({
      kind: "host_refused",
      reason: "host key changed",
      error: `host key mismatch: expected ${pinned}, the host presented ${seen}`,
    });
    expect(outcomeOf({ kind: "host_key_unknown", seenFingerprint: seen })).toMatchObject({ kind: "host_refused", reason: "no host key on record" });
  });

  it("a non-zero exit, a timeout, a failed connection or login is worth another attempt", () => {
    const failures = [
      outcomeOf({ kind: "exit_status", code: 1, signal: null, stdout: "", stderr: "/tmp/mounted\n", seenFingerprint: seen }),
      outcomeOf({ kind: "timeout", message: "the command did not finish within 100 ms", stdout: "", stderr: "", seenFingerprint: seen }),
      outcomeOf({ kind: "connect_failed", message: "connect ECONNREFUSED 198.51.100.1:22", seenFingerprint: null }),
      outcomeOf({ kind: "auth_failed", message: "All configured authentication methods failed", seenFingerprint: seen }),
    ];
    expect(failures.map((f) => f.kind)).toEqual(["failed", "failed", "failed", "failed"]);
    // Trust on first use must have no key to pin from an attempt that failed.
    expect(failures.filter((f) => "seenFingerprint" in f)).toEqual([]);
    expect(failures.map((f) => (f.kind === "failed" ? f.error : ""))).toEqual([
      "command exited with status 1: /tmp/mounted",
      "timed out: the command did not finish within 100 ms",
      "could not connect: connect ECONNREFUSED 198.51.100.1:22",
      "login refused: All configured authentication methods failed",
    ]);
  });
});
