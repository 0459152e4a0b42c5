/**
 * Where the guard takes its lock on the VM, first that exists and is writable:
 * `/run/lock` (the conventional place, a tmpfs), `/run` (root), then the SSH
 * user's home. Never `/tmp`: the cleanup itself empties `/tmp`, and a lock
 * file deleted and created again is a new file that a still-running earlier
 * cleanup does not hold.
 */
export const REMOTE_LOCK_FILES = ["/run/lock/vmres-cleanup.lock", "/run/vmres-cleanup.lock", "$HOME/.vmres-cleanup.lock"] as const;

/** What the guard prints on stderr when an earlier cleanup still holds the lock (it then waits). */
export const WAITING_FOR_EARLIER_CLEANUP = "vmres: an earlier cleanup still runs on this host; waiting for it to end";

/** flock's exit status when the lock is taken (`-E`), distinct from any status of `true`. */
const LOCK_TAKEN = 75;

/**
 * Runs as `sh -c GUARD vmres-cleanup COMMAND`: picks the lock file, says so on
 * stderr when an earlier cleanup holds it, then waits for the lock and runs
 * the command under the SSH user's own login shell (as sshd would have run it
 * without the guard), holding the lock until it and everything it started that
 * keeps the lock's descriptor have ended.
 */
const GUARD = [
  `if [ -d /run/lock ] && [ -w /run/lock ]; then lock=${REMOTE_LOCK_FILES[0]}`,
  `elif [ -w /run ]; then lock=${REMOTE_LOCK_FILES[1]}`,
  `else lock="${REMOTE_LOCK_FILES[2]}"; fi`,
  `flock -n -E ${LOCK_TAKEN} "$lock" true; [ $? -ne ${LOCK_TAKEN} ] || echo "${WAITING_FOR_EARLIER_CLEANUP}" >&2`,
  `exec flock "$lock" "\${SHELL:-/bin/sh}" -c "$1"`,
].join("\n");

/**
 * Wraps a cleanup command (the built-in one or a pool's) so that on the VM it
 * dies with the attempt and never overlaps another cleanup of the same VM.
 *
 * - `timeout -s KILL` kills the command, and every process it started that
 *   stayed in its process group, once `timeLimitMs` has passed since the
 *   command reached the VM. sshd would not: it leaves a command run without a
 *   terminal running when the client goes away. The limit is the worker's
 *   command timeout, which starts earlier (at login), so the VM's copy is
 *   killed at most the exec request's travel time after the worker gave up.
 *   KILL rather than TERM: the attempt has already failed, and TERM can be
 *   caught or ignored by the command's children.
 * - `flock` on a lock file outside /tmp: the command runs only while holding
 *   it, and its children inherit the descriptor, so a later attempt waits
 *   (within its own time limit) until everything of the earlier one that could
 *   still touch the VM has ended, whether it was cut short by a timeout, a lost
 *   connection or a crash of vmres, or left a process behind that escaped the
 *   kill (`setsid`).
 * - The waiting is inside the time limit, so the guard as a whole is bounded by it.
 *
 * Needs a POSIX login shell, GNU coreutils `timeout` and util-linux `flock`
 * on the VM. The command travels as one single-quoted argument, never
 * interpreted by the guard.
 */
export function guardCommand(command: string, timeLimitMs: number): string {
  // GNU timeout takes fractional seconds; 0 would mean "no limit".
  const seconds = (Math.max(1, Math.ceil(timeLimitMs)) / 1000).toFixed(3);
  return `exec timeout -s KILL ${seconds} sh -c ${shellQuote(GUARD)} vmres-cleanup ${shellQuote(command)}`;
}

/** One argument for a POSIX shell, whatever it contains: single quotes, each inner `'` written as `'\''`. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
