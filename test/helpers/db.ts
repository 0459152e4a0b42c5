import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { connect, type Database } from "../../src/db/client.js";
import { drizzle } from "drizzle-orm/postgres-js";
import * as schema from "../../src/db/schema.js";
import { LEASE_DEFAULTS } from "../../src/core/leases.js";
import { addVm } from "../../src/core/admin.js";
import type { Core } from "../../src/core/types.js";
import { createLogger } from "../../src/log.js";

export const testLog = createLogger("warn", "test");

/** The run's PostgreSQL URL with another database name. */
export function urlFor(database: string): string {
  const url = new URL(inject("postgresUrl"));
  url.pathname = `/${database}`;
  return url.toString();
}

/** A fresh, migrated database of its own for one test file: a copy of the run's template (test/global-setup.ts), already migrated. */
export async function freshDatabase(opts: { poolSize?: number } = {}): Promise<Database & { name: string }> {
  const name = `test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(inject("postgresUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name} template ${inject("templateDatabase")}`);
  await admin.end();
  const url = urlFor(name);
  const sql = connect(url, { lockTimeoutMs: 5000, poolSize: opts.poolSize ?? 20, log: testLog });
  const db = drizzle(sql, { schema });
  return { name, db, sql, url, close: () => sql.end({ timeout: 5 }) };
}

/** A core over the database; UADMIN01 is an admin (as if listed in SLACK_ADMINS) unless told otherwise. */
export function coreFor(database: Pick<Database, "db">, opts: Partial<Omit<Core, "db">> = {}): Core {
  return {
    db: database.db,
    people: opts.people ?? new Map(),
    bootstrapAdmins: opts.bootstrapAdmins ?? new Set(["UADMIN01"]),
    defaultPool: opts.defaultPool ?? "default",
    defaultQuota: opts.defaultQuota ?? 1,
    exhaustedAlertIntervalMinutes: opts.exhaustedAlertIntervalMinutes ?? 60,
    hideHolders: opts.hideHolders ?? false,
    leases: opts.leases ?? LEASE_DEFAULTS,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.observer ? { observer: opts.observer } : {}),
    ...(opts.reservationReminderLeadsMs ? { reservationReminderLeadsMs: opts.reservationReminderLeadsMs } : {}),
    ...(opts.tokens ? { tokens: opts.tokens } : {}),
    ...(opts.waitsPerPerson ? { waitsPerPerson: opts.waitsPerPerson } : {}),
  };
}

/** Slack-looking user IDs: U0000001, U0000002, … */
export const userId = (n: number) => `U${String(n).padStart(7, "0")}`;

/**
 * A clock for the core that tests move by hand: starts at the real time (so rows
 * written with PostgreSQL's now() and rows written with this clock agree), and
 * only moves when told, so days of leases pass in milliseconds.
 */
export class TestClock {
  private ms = Date.now();
  readonly now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
}

/**
 * Makes a queue place's waiting request alive, as a waiting `checkout --wait` or API `wait` keeps
 * it while it runs (src/core/wait-for-checkout.ts): an auto-take place gets a VM only while alive.
 */
export async function liveWait(core: Core, waiterId: number): Promise<void> {
  await core.db.$client`insert into waits (person_id, pool, owner, alive_until)
                        select person_id, pool, 'test', now() + interval '1 hour' from waiters where id = ${waiterId}`;
}

let poolVms = 0;

/** The address `addPoolVms` gives the VM it named `name` (`<pool>-<n>`). */
export function poolVmIp(name: string): string {
  const n = Number(/-(\d+)$/.exec(name)?.[1]);
  if (!Number.isInteger(n)) throw new Error(`${name} was not named by addPoolVms`);
  return `198.51.100.${(n % 250) + 1}`;
}

/** Adds `count` VMs to `pool` as the operator, named `<pool>-<n>` with addresses in 198.51.100.0/24; their names. */
export async function addPoolVms(core: Core, pool: string, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${pool}-${++poolVms}`;
    const added = await addVm(core, { person: "operator", source: "cli" }, { name, ip: poolVmIp(name), pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
    if (!added.ok) throw new Error(`adding ${name} to ${pool}: ${JSON.stringify(added.refusal)}`);
    names.push(name);
  }
  return names;
}
