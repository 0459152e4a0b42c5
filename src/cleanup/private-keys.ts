import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
// ssh2 is CommonJS and Node's ESM loader cannot see `utils` as a named export; the default export has it.
import ssh2, { type ParsedKey } from "ssh2";

/** A private key file read and usable, or why not (a message naming the file). */
export type KeyRead = { ok: true; key: Buffer } | { ok: false; error: string };

/** What the health check and the logs say about a key file vmres cannot use. */
export interface BlockedKey {
  file: string;
  error: string;
}

/**
 * What the VM's last error, the events and `/healthz` say while a key cannot
 * be used, e.g. `cleanup blocked: cannot read SSH private key file /k: ENOENT…`.
 * One wording, so an admin (or a view listing blocked VMs) recognises it.
 */
export function cleanupBlockedBy(keyError: string): string {
  return `cleanup blocked: ${keyError}`;
}

/** `~/…` in a key file (as people write it in vms.yml and .env) means the home of the user running vmres. */
export function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

/**
 * Reads a private key file and checks that ssh2 can use it (an encrypted key
 * or a file that holds no key is as useless as a missing one). A key that
 * cannot be used is vmres's own misconfiguration, never the VM's fault.
 */
export async function readPrivateKey(file: string): Promise<KeyRead> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (error) {
    return { ok: false, error: `cannot read SSH private key file ${file}: ${error instanceof Error ? error.message : String(error)}` };
  }
  // The checks ssh2's connect() makes, made here so they are not mistaken for the VM refusing the login.
  // ssh2 returns an array for a file holding several keys (and uses the first); its types leave that out.
  // A public key (one line, `ssh-ed25519 AAAA…`) is said to be one, whatever ssh2 makes of it.
  if (/^(ssh|ecdsa|sk)-[\w@.-]+ [A-Za-z0-9+/]/.test(key.toString().trim())) return { ok: false, error: `cannot use SSH private key file ${file}: it holds no private key` };
  const parsed = ssh2.utils.parseKey(key) as ParsedKey | ParsedKey[] | Error;
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first instanceof Error) return { ok: false, error: `cannot use SSH private key file ${file}: ${first.message}` };
  if (!first?.isPrivateKey()) return { ok: false, error: `cannot use SSH private key file ${file}: it holds no private key` };
  return { ok: true, key };
}

/**
 * The private key files in use and which of them cannot be used now. Every
 * read goes to the file (a key put in place or rotated needs no restart), and
 * records whether that file works; `onBlocked` / `onUnblocked` hear of each
 * change once, so an operator is told once per episode, not once per VM.
 */
export class PrivateKeys {
  private readonly blocked = new Map<string, string>();

  constructor(
    private readonly hooks: {
      onBlocked: (key: BlockedKey) => void;
      onUnblocked: (file: string) => void;
    },
  ) {}

  /** Reads `file` (after `~/` expansion) and records whether it can be used. */
  async read(path: string): Promise<KeyRead & { file: string }> {
    const file = expandHome(path);
    const read = await readPrivateKey(file);
    const before = this.blocked.get(file);
    if (read.ok) {
      if (before !== undefined) {
        this.blocked.delete(file);
        this.hooks.onUnblocked(file);
      }
    } else if (before !== read.error) {
      this.blocked.set(file, read.error);
      this.hooks.onBlocked({ file, error: read.error });
    }
    return { ...read, file };
  }

  /** Reads each file now: at start, and for the health check. */
  async check(paths: Iterable<string>): Promise<BlockedKey[]> {
    await Promise.all([...new Set(paths)].map((path) => this.read(path)));
    return this.blockedKeys();
  }

  /** Reads the files that were blocked again, so a fixed key shows as fixed even while no cleanup is due. */
  recheck(): Promise<BlockedKey[]> {
    return this.check([...this.blocked.keys()]);
  }

  /** The files that could not be used when last read. */
  blockedKeys(): BlockedKey[] {
    return [...this.blocked].map(([file, error]) => ({ file, error }));
  }
}
