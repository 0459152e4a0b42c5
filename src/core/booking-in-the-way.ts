import type postgres from "postgres";
import { iso } from "./clock.js";

type Sql = postgres.Sql | postgres.TransactionSql;

/** The next booking of a VM not yet given that a lease ending at `endsAt` (null: pinned) would run into. */
export async function bookingInTheWay(tx: Sql, vmId: number, at: Date, endsAt: Date | null): Promise<{ from: Date; label: string } | null> {
  const [row] = await tx<{ starts: Date; label: string }[]>`
    select lower(rv.during) as starts, res.label from reservation_vms rv join reservations res on res.id = rv.reservation_id
    where rv.vm_id = ${vmId} and rv.active and rv.checkout_id is null and upper(rv.during) > ${iso(at)}::timestamptz
      ${endsAt === null ? tx`` : tx`and lower(rv.during) < ${iso(endsAt)}::timestamptz`}
    order by lower(rv.during) limit 1`;
  return row ? { from: new Date(row.starts), label: row.label } : null;
}
