import type { CleanupReport } from "../core/cleanup/outcome.js";

/**
 * Top-level entries of /tmp that systemd-tmpfiles itself leaves alone because
 * running services use them (its tmp.conf and x11.conf): a service's private
 * /tmp, and the X11 and ICE socket directories. Deleting them breaks services
 * that are still running on the VM.
 */
export const KEPT_TMP_ENTRIES = ["systemd-private-*", ".X11-unix", ".ICE-unix", ".XIM-unix", ".font-unix"] as const;

// In -path patterns `*` also matches `/`: `/tmp/systemd-private-*` covers those directories' contents too.
const notKept = KEPT_TMP_ENTRIES.map((name) =>
  name.endsWith("*") ? `! -path '/tmp/${name}'` : `! -path '/tmp/${name}' ! -path '/tmp/${name}/*'`,
).join(" ");
const isKept = KEPT_TMP_ENTRIES.map((name) => `-name '${name}'`).join(" -o ");

/**
 * The default cleanup command: deletes everything under /tmp except the kept
 * entries, and reports counts on its last line of stdout.
 *
 * - `find` never follows symlinks (it runs as -P), so a link in /tmp that
 *   points elsewhere is deleted and its target is untouched.
 * - `-xdev` keeps it on /tmp's file system: something mounted under /tmp is
 *   not entered, stays, and counts as remaining, so the cleanup fails loudly
 *   instead of wiping another file system.
 * - `-delete` works bottom-up and takes names from find itself, never through
 *   a shell or xargs, so spaces, newlines and leading dashes in names are safe;
 *   `-printf .` prints one byte per entry so `wc -c` counts entries whatever
 *   their names. A file still open is unlinked like any other (its space is
 *   freed when the process closes it).
 * - It is a constant: nothing about the VM or the user is ever put into it.
 *
 * Needs a POSIX shell and GNU findutils.
 */
export const DEFAULT_CLEANUP_COMMAND = [
  `removed=$(find /tmp -xdev -mindepth 1 ${notKept} -delete -printf . | wc -c)`,
  `kept=$(find /tmp -xdev -mindepth 1 -maxdepth 1 \\( ${isKept} \\) -printf . | wc -c)`,
  `remaining=$(find /tmp -xdev -mindepth 1 ${notKept} -printf . | wc -c)`,
  `echo "vmres-cleanup removed=$((removed)) kept=$((kept)) remaining=$((remaining))"`,
  // Name a few of what is left, for the admin who has to look at the VM.
  `if [ "$((remaining))" -ne 0 ]; then find /tmp -xdev -mindepth 1 ${notKept} -print | head -n 20 >&2; exit 1; fi`,
].join("\n");

const REPORT_LINE = /^vmres-cleanup removed=(\d+) kept=(\d+) remaining=(\d+)$/gm;

/** Reads the default command's report from its stdout; null when there is none (e.g. a custom command). */
export function parseCleanupReport(stdout: string): CleanupReport | null {
  const last = [...stdout.matchAll(REPORT_LINE)].at(-1);
  if (!last) return null;
  return { removed: Number(last[1]), kept: Number(last[2]), remaining: Number(last[3]) };
}
