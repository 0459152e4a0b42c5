import type postgres from "postgres";
import { isConnectionLost } from "./errors.js";

/**
 * Runs `fn` on a connection reserved from the pool, for a transaction that sends its BEGIN and
 * COMMIT together with its statements (fewer round trips than `sql.begin`, which awaits each).
 * `fn` calls `committed()` once its COMMIT came back. A lost connection ended the transaction
 * with it: postgres.js reconnects on demand, and neither a ROLLBACK on it nor releasing it into
 * the pool is safe. Otherwise a transaction whose COMMIT did not come back (an error, a
 * decision to refuse) is rolled back before the connection returns to the pool.
 */
export async function onReservedConnection<T>(sql: postgres.Sql, fn: (tx: postgres.ReservedSql, committed: () => void) => Promise<T>): Promise<T> {
  const tx = await sql.reserve();
  let lost = false;
  let ended = false;
  try {
    return await fn(tx, () => {
      ended = true;
    });
  } catch (err) {
    lost = isConnectionLost(err);
    throw err;
  } finally {
    if (!lost) {
      if (!ended) await tx`rollback`.catch(() => undefined);
      tx.release();
    }
  }
}
