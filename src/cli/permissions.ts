import { readFileSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname } from "node:path";
import { causes, EXIT, failure, type Failure } from "./failures.js";
import { vmresCommand } from "./invocation.js";

/**
 * "Permission denied" explained: which file, whose it is, who we are, and
 * what to do. Run as another OS user, the CLI meets the bot's files (.env, the
 * embedded database's folder, 0700 and its password 0600) and would otherwise
 * die with a bare EACCES.
 */
export function permissionFailure(err: unknown, remedy = defaultRemedy): Failure | null {
  for (const e of causes(err)) {
    const { code, path } = e as NodeJS.ErrnoException;
    if ((code === "EACCES" || code === "EPERM") && typeof path === "string") return notAllowed(path, remedy);
  }
  return null;
}

/** The account that owns the vmres files: run as it, or use a server this user may log in to. */
export const defaultRemedy = (owner: string) =>
  `Run vmres as ${owner} (the account that runs the bot, e.g. sudo -u ${owner} ${vmresCommand()} …), ` +
  "or set DATABASE_URL to a PostgreSQL server this user may log in to.";

export function notAllowed(path: string, remedy: (owner: string) => string = defaultRemedy): Failure {
  const holder = nearestExisting(path);
  const owner = holder ? userName(holder.uid) : "another user";
  const where = holder
    ? `${holder.path === path ? path : `${holder.path}, which holds ${path},`} belongs to ${owner} (mode ${(holder.mode & 0o7777).toString(8).padStart(4, "0")})`
    : `${path} is out of reach`;
  return failure(EXIT.notReady, "permission_denied", `permission denied: ${where}, and you are ${currentUser()}. ${remedy(owner)}`, {
    path,
    owner,
  });
}

/** The path, or the first folder above it that this user can see (the one that shuts it out). */
function nearestExisting(path: string): { path: string; uid: number; mode: number } | null {
  for (let current = path; ; current = dirname(current)) {
    try {
      const { uid, mode } = statSync(current);
      return { path: current, uid, mode };
    } catch {
      if (current === dirname(current)) return null;
    }
  }
}

function currentUser(): string {
  const uid = process.getuid?.();
  try {
    return `${userInfo().username}${uid === undefined ? "" : ` (uid ${uid})`}`;
  } catch {
    return uid === undefined ? "another user" : `uid ${uid}`;
  }
}

/** A uid as people know it, from /etc/passwd; the number where there is none. */
export function userName(uid: number): string {
  try {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.split(":")[2] === String(uid));
    const name = line?.split(":")[0];
    if (name) return name;
  } catch {
    // no /etc/passwd (or not readable): the number still identifies the owner
  }
  return `uid ${uid}`;
}
