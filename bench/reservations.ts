/**
 * Reservations part of `npm run bench` (BENCH_SKIP=reservations skips it), on
 * a private embedded PostgreSQL in a temp folder:
 * - booking throughput: 2,000 bookings of one VM each, made with the core's
 *   `reserve` 8 at a time, into the 100-VM pool the checkouts use, 100 per
 *   hour-long slot from two days ahead; 8,000 more of the same shape inserted
 *   in one statement (every VM then has 100 future bookings); then 500
 *   bookings that cannot fit, to time the refusal with its free count and
 *   nearest range;
 * - checkout latency: checkout + check-in cycles (8 at a time, for 3 s) on that
 *   pool, the p50 of the checkout call, with the 10,000 bookings active and
 *   with them set inactive (out of every partial index, as if the table were
 *   empty), alternating rounds so a loaded machine shifts both alike.
 * Target: checkout p50 with 10,000 future bookings within 1.2× of without.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { checkin } from "../src/core/checkin.js";
import { checkout } from "../src/core/checkout.js";
import { benchCore } from "./bench-core.js";
import { reserve } from "../src/core/reservations.js";
import type { Core } from "../src/core/types.js";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { openEmbedded, type EmbeddedServer } from "../src/db/embedded.js";
import { createLogger } from "../src/log.js";
import { percentile } from "./stats.js";

const BOOKINGS = 10_000;
/** Of those, made through `reserve` and timed; the rest are inserted in one statement, the same shape, to keep the bench short. */
const TIMED_BOOKINGS = 2_000;
const VMS = 100;
const REFUSALS = 500;
const CONCURRENCY = 8;
const CYCLE_MS = 3000;
const ROUNDS = 3;
const P50_RATIO_TARGET = 1.2;
const H = 3_600_000;

export async function benchReservations(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-reservations-"));
  const log = createLogger("warn", "bench-reservations");
  let server: EmbeddedServer | undefined;
  let database: Database | undefined;
  try {
    server = await openEmbedded(dir, { port: 0, log });
    database = await openDatabase({ databaseUrl: server.url, embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: CONCURRENCY + 4, log });
    await migrateDatabase(database);
    const core = benchCore(database, { defaultPool: "bench-cycle", defaultQuota: 1, reservationReminderLeadsMs: [86_400_000, H] });
    const sql = database.sql;
    await sql`insert into pools (name, quota) values ('bench-cycle', 1)`;
    await sql`insert into vms (name, ip, pool) select 'bc-' || g, '198.51.100.2', 'bench-cycle' from generate_series(1, ${VMS}::int) g`;
    await sql`insert into people (name) select 'bench-b-' || g from generate_series(1, ${CONCURRENCY}::int) g`;
    const lines = [`node ${process.version}, load average ${loadavg().map((n) => n.toFixed(1)).join(" ")}`];

    // Booking throughput.
    const base = Math.ceil((Date.now() + 2 * 86_400_000) / H) * H;
    let next = 0;
    const bookStarted = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        const me = { person: { lookup: `bench-b-${w + 1}` }, source: "cli" as const };
        for (let i = next++; i < TIMED_BOOKINGS; i = next++) {
          const slot = Math.floor(i / VMS);
          const r = await reserve(core, me, { pool: "bench-cycle", count: 1, from: new Date(base + slot * H), to: new Date(base + (slot + 1) * H), label: `b-${i}` });
          if (!r.ok) throw new Error(`bench booking ${i} refused: ${JSON.stringify(r.refusal)}`);
        }
      }),
    );
    const bookSeconds = (performance.now() - bookStarted) / 1000;
    lines.push(`${TIMED_BOOKINGS.toLocaleString("en")} bookings of 1 VM into one 100-VM pool, ${CONCURRENCY} at a time: ${(TIMED_BOOKINGS / bookSeconds).toFixed(0)} bookings/s (${bookSeconds.toFixed(1)} s; one pool's bookings take turns)`);
    await fillBookings(database, TIMED_BOOKINGS, BOOKINGS, base);
    next = 0;
    const refusedStarted = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        const me = { person: { lookup: `bench-b-${w + 1}` }, source: "cli" as const };
        for (let i = next++; i < REFUSALS; i = next++) {
          const slot = i % 100;
          const r = await reserve(core, me, { pool: "bench-cycle", count: 1, from: new Date(base + slot * H), to: new Date(base + (slot + 1) * H), label: `r-${i}` });
          if (r.ok || r.refusal.code !== "not_enough_free") throw new Error(`bench refusal ${i}: ${JSON.stringify(r)}`);
        }
      }),
    );
    const refusedSeconds = (performance.now() - refusedStarted) / 1000;
    lines.push(`${REFUSALS} bookings that cannot fit (each refusal with its free count and nearest range): ${(REFUSALS / refusedSeconds).toFixed(0)} refusals/s`);
    await sql`analyze`;

    // Checkout latency with and without the bookings.
    const withP50: number[] = [];
    const withoutP50: number[] = [];
    let capped = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await setBookings(database, false);
      withoutP50.push((await cycles(core, database)).p50);
      await setBookings(database, true);
      const r = await cycles(core, database);
      withP50.push(r.p50);
      capped += r.capped;
    }
    const a = percentile(withoutP50, 50);
    const b = percentile(withP50, 50);
    lines.push(
      `checkout p50, ${CONCURRENCY} at a time, ${ROUNDS} alternating rounds of ${CYCLE_MS / 1000} s: ${a.toFixed(2)} ms without bookings, ${b.toFixed(2)} ms with ${BOOKINGS.toLocaleString("en")} future bookings (ratio ${(b / a).toFixed(2)}; ${capped} leases cut at a booking)`,
      "",
      `${b / a <= P50_RATIO_TARGET ? "PASS" : "MISS"}  checkout p50 with ${BOOKINGS.toLocaleString("en")} future bookings within ${P50_RATIO_TARGET}× of without (ratio ${(b / a).toFixed(2)})`,
    );
    return lines;
  } finally {
    await database?.close();
    await server?.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bookings `from`..`to`-1 as `reserve` would make them (slot i / VMS, VM i % VMS), in one statement. */
async function fillBookings(database: Database, from: number, to: number, base: number): Promise<void> {
  await database.sql`
    with made as (
      insert into reservations (label, person_id, pool, count, starts_at, ends_at, source)
      select 'b-' || g, (select min(id) from people where name like 'bench-b-%'), 'bench-cycle', 1,
             to_timestamp(${base / 1000}::float8 + (g / ${VMS}::int) * 3600), to_timestamp(${base / 1000}::float8 + (g / ${VMS}::int + 1) * 3600), 'cli'
      from generate_series(${from}::int, ${to - 1}::int) g
      returning id, label, starts_at, ends_at
    )
    insert into reservation_vms (reservation_id, vm_id, during)
    select m.id, v.id, tstzrange(m.starts_at, m.ends_at) from made m
    join vms v on v.name = 'bc-' || (substring(m.label from 3)::int % ${VMS}::int + 1)`;
}

/** Turns the bookings on or off (`active`: in or out of every partial index), then vacuums so both runs read a tidy table. */
async function setBookings(database: Database, active: boolean): Promise<void> {
  await database.sql`update reservation_vms set active = ${active} where active <> ${active}`;
  await database.sql`vacuum analyze reservation_vms`;
}

let person = 0;
/** Checkout + check-in cycles for CYCLE_MS; the p50 of the checkout calls. */
async function cycles(core: Core, database: Database): Promise<{ p50: number; capped: number }> {
  const deadline = performance.now() + CYCLE_MS;
  const times: number[] = [];
  let capped = 0;
  const worker = async () => {
    const me = { person: { lookup: `bench-r-${++person}` } as const, source: "cli" as const };
    await database.sql`insert into people (name) values (${me.person.lookup}) on conflict do nothing`;
    while (performance.now() < deadline) {
      const started = performance.now();
      const r = await checkout(core, me, { pool: "bench-cycle" });
      times.push(performance.now() - started);
      if (!r.ok) throw new Error(`bench checkout refused: ${r.refusal.code}`);
      if (r.value.bookedFrom) capped++;
      const back = await checkin(core, me, r.value.name);
      if (!back.ok) throw new Error(`bench check-in refused: ${back.refusal.code}`);
      await database.sql`update vms set state = 'available', cleanup_next_at = null where name = ${r.value.name} and state = 'cleaning'`;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { p50: percentile(times, 50), capped };
}
