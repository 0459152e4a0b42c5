import type { Logger } from "../log.js";
import { connect, drizzleOver, type Database, type Db } from "./client.js";
import { EMBEDDED_LOGIN } from "./embedded.js";

/** A small pool of its own on the service's database, and what it takes to close it. */
export interface SidePool {
  db: Db;
  close(): Promise<void>;
}

/**
 * Opens a second, small pool on the database `database` is connected to, for work that must not
 * queue behind the main pool's connections (the outbox dispatcher: fifty checkouts holding every
 * connection of the main pool kept the claim of their own DMs waiting for one). It logs in as the
 * main pool does: as DATABASE_URL says, or, on the embedded server (`embedded`), SCRAM only.
 */
export function openSidePool(
  database: Pick<Database, "url">,
  opts: { size: number; lockTimeoutMs: number; embedded: boolean; log: Logger },
): SidePool {
  const sql = connect(database.url, { lockTimeoutMs: opts.lockTimeoutMs, poolSize: opts.size, log: opts.log }, opts.embedded ? EMBEDDED_LOGIN : undefined);
  return { db: drizzleOver(sql), close: () => sql.end({ timeout: 5 }) };
}
