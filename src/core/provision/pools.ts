import type { Db, PgSql } from "../../db/client.js";
import type { PoolKind } from "../../db/schema.js";

/** What a provisioned pool says about its instances (src/db/schema.ts, pools). */
export interface ProvisionedPool {
  name: string;
  kind: PoolKind;
  quota: number;
  minIdle: number;
  maxSize: number;
  image: string;
  provider: "docker" | "command";
  providerSettings: Record<string, unknown>;
  reuse: boolean;
  maxImages: number;
}

type PoolRow = {
  name: string;
  kind: PoolKind;
  quota: number;
  min_idle: number;
  max_size: number | null;
  image: string | null;
  provider: string | null;
  provider_settings: Record<string, unknown>;
  reuse: boolean;
  max_images: number;
};

const fromRow = (r: PoolRow): ProvisionedPool => ({
  name: r.name,
  kind: r.kind,
  quota: r.quota,
  minIdle: r.min_idle,
  // A provisioned pool always has these (pools_provisioned_complete); a static one is never used as provisioned.
  maxSize: r.max_size ?? 0,
  image: r.image ?? "",
  provider: r.provider === "command" ? "command" : "docker",
  providerSettings: r.provider_settings,
  reuse: r.reuse,
  maxImages: r.max_images,
});

const COLUMN_NAMES = ["name", "kind", "quota", "min_idle", "max_size", "image", "provider", "provider_settings", "reuse", "max_images"];

/**
 * The pool if it is provisioned; null for a static pool or none of that name. Through postgres.js
 * alone (no drizzle-orm): a CLI checkout reads it when no VM is free, and loads nothing of drizzle.
 */
export async function provisionedPool(db: Pick<Db, "$client">, pool: string): Promise<ProvisionedPool | null> {
  return provisionedPoolIn(db.$client, pool);
}

/** `provisionedPool` inside a postgres.js transaction (configuring a pool reads it back there). */
export async function provisionedPoolIn(tx: PgSql, pool: string): Promise<ProvisionedPool | null> {
  const [row] = await tx<PoolRow[]>`select ${tx(COLUMN_NAMES)} from pools where name = ${pool} and kind = 'provisioned'`;
  return row ? fromRow(row) : null;
}

/** Every provisioned pool, by name. */
export async function provisionedPools(db: Pick<Db, "$client">): Promise<ProvisionedPool[]> {
  const sql = db.$client;
  const rows = await sql<PoolRow[]>`select ${sql(COLUMN_NAMES)} from pools where kind = 'provisioned' order by name`;
  return rows.map(fromRow);
}

/** Instance names: the pool's name (shortened to fit) and the instance's id; also the VM's and the provider's name. */
export const instanceName = (pool: string, id: number): string => `${pool.slice(0, 48).replace(/[.-]+$/, "")}-${id}`;

/** A saved image's name: the pool, the person, and the image's id (unique, and a valid docker tag and cloud image name). */
export const imageName = (pool: string, person: string, id: number): string =>
  `${pool.slice(0, 40).replace(/[.-]+$/, "")}-${person.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 40).replace(/^-+|-+$/g, "") || "p"}-${id}`;
