/**
 * A transaction's BEGIN reserves its connection, even when that BEGIN is the statement that fills
 * the connection's pipeline or meets a full socket. With postgres.js 3.4.9 as published it did
 * not (porsager/postgres#823, #1189): the reservation hook ran only when the connection could
 * take more, so the transaction's connection went back to the pool with the transaction open;
 * another BEGIN on it failed with UNSAFE_TRANSACTION (seen now and then in this suite under load:
 * 200 concurrent bookings, 100 concurrent checkouts), and a stranger's statement could run inside
 * it. The dependency is patched (patches/postgres+3.4.9.patch).
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
});
afterAll(() => database.close());

describe("a transaction's connection", () => {
  it("is reserved by its BEGIN even when that BEGIN fills the pipeline of a busy connection", async () => {
    // Two connections, each busy with a slow statement, and room for one statement in flight
    // behind it: the BEGIN goes behind one of them and fills its pipeline, the case the hook skipped.
    // max_pipeline is an option postgres.js reads but does not declare in its types.
    const sql = postgres(database.url, { max: 2, onnotice: () => {}, ...({ max_pipeline: 1 } as object) });
    try {
      await Promise.all([sql`select 1`, sql`select 1`]);
      const slow = [sql`select pg_sleep(0.2)`.execute(), sql`select pg_sleep(0.2)`.execute()];
      const both = await Promise.all(
        [0, 1].map(() =>
          sql.begin(async (tx) => {
            const [a] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
            const [b] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
            return a!.xid === b!.xid;
          }),
        ),
      );
      await Promise.all(slow);
      expect(both).toEqual([true, true]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
