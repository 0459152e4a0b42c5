import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const TOOLS = ["ip", "unshare", "nsenter", "flock", "findmnt", "ssh-keygen"];
const SSHD = "/usr/sbin/sshd";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(tool: string): boolean {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  return dirs.some((dir) => isExecutable(join(dir, tool)));
}

/** Whether this machine can run the lab: root (namespaces, mounts) and the tools it drives. */
export function labPrerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: "the sshd test lab needs root (network and mount namespaces)" };
  const missing = TOOLS.filter((tool) => !onPath(tool));
  if (!isExecutable(SSHD)) missing.push(SSHD);
  if (missing.length > 0) {
    return { ok: false, reason: `the sshd test lab needs ${missing.join(", ")} (apt-get install openssh-server iproute2)` };
  }
  return { ok: true };
}

/**
 * For test files: the reason to skip the lab's tests, or null to run them.
 * On CI (`CI=true`) a missing prerequisite is a failure, not a skip, so a
 * broken runner cannot pass by testing nothing.
 */
export function labSkipReason(): string | null {
  const prerequisites = labPrerequisites();
  if (prerequisites.ok) return null;
  if (process.env.CI === "true") throw new Error(`CI=true but ${prerequisites.reason}`);
  console.warn(`skipping sshd lab tests: ${prerequisites.reason}`);
  return prerequisites.reason;
}
