import { listenForWakeups, TOKENS_CHANNEL, type StopListening } from "../db/notify.js";
import type { Logger } from "../log.js";
import type { Core, PersonTag } from "./types.js";

/** What a replica keeps of an accepted token between its requests. */
export interface CachedToken {
  /** As authenticateToken answers it (a TokenHolder). */
  holder: { tokenId: number | null; person: PersonTag };
  /** `api_token_epoch` as read in the statement that accepted the token: the entry holds while it is unchanged. */
  epoch: string;
  /** The earliest expiry of the token and the tokens it was made from (null: none expires). */
  expiresAt: string | null;
  /** When this replica last wrote the token's `last_used_at` (ms, its clock). */
  touchedAt: number;
}

/** Entries kept at most; past it the oldest goes (a replica serves far fewer tokens than this). */
const MAX_ENTRIES = 10_000;

/**
 * Accepted tokens by hash, per process: a request with a known token skips
 * the look-up of the token, its chain of parents and its person, and sends
 * only the statement that counts it (authenticateToken). That statement also
 * checks the entry is still good, in the same snapshot as the count: the
 * expiry against the database's clock, and `api_token_epoch` against the one
 * the entry was read with. Every revocation, expiry or person change bumps the
 * epoch in its own transaction (triggers, drizzle/0026), so a request that
 * starts after such a change commits is judged on the new rows, on every
 * replica, whether or not its NOTIFY has arrived. The NOTIFY (vmres_tokens)
 * empties the cache at once, so the next request reads the rows again instead
 * of first failing the check; so does every (re)start of listening (a lost
 * connection loses the notifications sent meanwhile).
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();
  private listening: Promise<StopListening> | null = null;

  constructor(private readonly log: Logger) {}

  get(hash: string): CachedToken | undefined {
    return this.entries.get(hash);
  }

  set(hash: string, entry: CachedToken): void {
    this.entries.delete(hash);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(hash, entry);
  }

  forget(hash: string): void {
    this.entries.delete(hash);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Starts listening (once, at the first token authenticateToken sees, so an API built without a
   * database, as for its OpenAPI document, listens to nothing): every vmres_tokens notification
   * and every (re)start of listening empties the cache.
   */
  listen(core: Core): void {
    this.listening ??= listenForWakeups(core.db.$client, TOKENS_CHANNEL, () => this.clear(), this.log);
  }

  /** Stops listening (the API closing). */
  async stop(): Promise<void> {
    const stop = await this.listening;
    this.listening = null;
    stop?.();
  }
}
