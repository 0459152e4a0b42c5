import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Debian packages that provide what the image test drives (the docker client may also come from elsewhere). */
const PACKAGES: Record<string, string> = { docker: "docker.io", dockerd: "docker.io", "docker-proxy": "docker.io", debootstrap: "debootstrap", tar: "tar" };

function onPath(tool: string): boolean {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Whether this machine can build and run the image: root (the tests start a
 * dockerd of their own), its tools, and debootstrap for the base image.
 */
export function dockerPrerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: "the container image tests need root (they start a dockerd of their own)" };
  const missing = Object.keys(PACKAGES).filter((tool) => !onPath(tool));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((tool) => PACKAGES[tool]))].join(" ");
    return { ok: false, reason: `the container image tests need ${missing.join(", ")} (apt-get install ${packages})` };
  }
  return { ok: true };
}

/**
 * For test files: the reason to skip the image tests, or null to run them.
 * On CI (`CI=true`) a missing prerequisite is a failure, not a skip, so a
 * broken runner cannot pass by testing nothing.
 */
export function dockerSkipReason(): string | null {
  const prerequisites = dockerPrerequisites();
  if (prerequisites.ok) return null;
  if (process.env.CI === "true") throw new Error(`CI=true but ${prerequisites.reason}`);
  console.warn(`skipping container image tests: ${prerequisites.reason}`);
  return prerequisites.reason;
}
