import { asAdmin } from "../people.js";
import { ok, refuse, type Actor, type Core, type Result } from "../types.js";
import { checkPoolName } from "../validate.js";
import { provisionedPoolIn, type ProvisionedPool } from "./pools.js";

/** A provisioned pool's settings as an admin gives them (`vmres pool set POOL --kind provisioned …`); unset: unchanged. */
export interface ProvisioningChange {
  minIdle?: number | undefined;
  maxSize?: number | undefined;
  image?: string | undefined;
  provider?: "docker" | "command" | undefined;
  providerSettings?: Record<string, unknown> | undefined;
  reuse?: boolean | undefined;
  maxImages?: number | undefined;
}

const whole = (field: string, value: number | undefined, min: number, max: number) =>
  value === undefined || (Number.isInteger(value) && value >= min && value <= max)
    ? null
    : ({ code: "invalid_input", field, message: `${field} is a whole number from ${min} to ${max}` } as const);

/**
 * Makes a pool provisioned, or changes a provisioned pool's settings (admins),
 * creating the pool if it is new. A pool that holds static VMs cannot become
 * provisioned (its VMs are not instances). `settingsProblem` is the provider's
 * own check of its settings (the core does not know providers).
 */
export async function setProvisioning(
  core: Core,
  actor: Actor,
  pool: string,
  change: ProvisioningChange,
  settingsProblem: (provider: "docker" | "command", settings: Record<string, unknown>) => string | null,
): Promise<Result<ProvisionedPool>> {
  const me = await asAdmin(core, actor, "change a pool");
  if (!me.ok) return me;
  const bad =
    checkPoolName(pool) ??
    whole("min-idle", change.minIdle, 0, 1000) ??
    whole("max-size", change.maxSize, 1, 10000) ??
    whole("max-images", change.maxImages, 1, 1000) ??
    (change.image !== undefined && (change.image.trim() === "" || change.image.length > 500)
      ? ({ code: "invalid_input", field: "image", message: "an image is 1 to 500 characters (a docker image like debian-sshd:12, or a cloud image family)" } as const)
      : null);
  if (bad) return refuse(bad);
  return core.db.$client.begin(async (tx): Promise<Result<ProvisionedPool>> => {
    // Read (and lock) before anything is written: a refusal below must leave no new pool behind.
    const [existing] = await tx<{ kind: string; min_idle: number; max_size: number | null; image: string | null; provider: string | null; provider_settings: Record<string, unknown>; static_vms: number }[]>`
      select kind::text, min_idle, max_size, image, provider, provider_settings,
             (select count(*)::int from vms v where v.pool = p.name and v.state <> 'retired' and not exists (select 1 from instances i where i.vm_id = v.id)) as static_vms
      from pools p where name = ${pool} for update`;
    const current = existing ?? { kind: "static", min_idle: 0, max_size: null, image: null, provider: null, provider_settings: {}, static_vms: 0 };
    if (current.static_vms > 0) {
      return refuse({ code: "invalid_input", field: "kind", message: `pool ${pool} has ${current.static_vms} fixed VMs; a provisioned pool holds only the instances it creates (use a new pool)` });
    }
    const next = {
      minIdle: change.minIdle ?? current.min_idle,
      maxSize: change.maxSize ?? current.max_size,
      image: change.image ?? current.image,
      provider: change.provider ?? (current.provider as "docker" | "command" | null),
      settings: change.providerSettings ?? current.provider_settings,
    };
    const missing = [next.provider === null ? "--provider" : null, next.image === null ? "--image" : null, next.maxSize === null ? "--max-size" : null].filter(Boolean);
    if (missing.length > 0) return refuse({ code: "invalid_input", field: "kind", message: `a provisioned pool needs ${missing.join(", ")}` });
    if (next.minIdle > (next.maxSize ?? 0)) return refuse({ code: "invalid_input", field: "min-idle", message: `min-idle ${next.minIdle} is more than max-size ${next.maxSize}` });
    const problem = settingsProblem(next.provider as "docker" | "command", next.settings);
    if (problem) return refuse({ code: "invalid_input", field: "provider-settings", message: problem });
    await tx`insert into pools (name, quota) values (${pool}, ${core.defaultQuota}) on conflict (name) do nothing`;
    await tx`
      update pools set kind = 'provisioned', min_idle = ${next.minIdle}, max_size = ${next.maxSize}, image = ${next.image}, provider = ${next.provider},
        provider_settings = ${JSON.stringify(next.settings)}::jsonb, reuse = coalesce(${change.reuse ?? null}::boolean, reuse),
        max_images = coalesce(${change.maxImages ?? null}::int, max_images)
      where name = ${pool}`;
    const settled = await provisionedPoolIn(tx, pool);
    if (!settled) throw new Error(`pool ${pool} is not provisioned after the update`);
    return ok(settled);
  });
}
