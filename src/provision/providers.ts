import { commandProvider, commandSettingsSchema } from "./command.js";
import { dockerProvider, dockerSettingsSchema } from "./docker.js";
import { ProviderError, type Provider } from "./provider.js";

/**
 * The provider of a pool, from its `provider` and `provider_settings`; bad
 * settings are a ProviderError naming the pool. `installation` is this
 * installation's id (`installationId`), which the docker provider labels and checks.
 */
export function providerFor(pool: string, kind: "docker" | "command", settings: Record<string, unknown>, timeoutMs: number, installation: string): Provider {
  const schema = kind === "docker" ? dockerSettingsSchema : commandSettingsSchema;
  const parsed = schema.safeParse(settings);
  if (!parsed.success) {
    throw new ProviderError(`pool ${pool}: provider_settings for ${kind}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "settings"}: ${i.message}`).join("; ")}`);
  }
  return kind === "docker" ? dockerProvider(dockerSettingsSchema.parse(settings), timeoutMs, installation) : commandProvider(commandSettingsSchema.parse(settings), timeoutMs);
}

/** Checks settings as `pool set` and vms.yml give them, without making a provider: the message, or null. */
export function providerSettingsProblem(kind: "docker" | "command", settings: Record<string, unknown>): string | null {
  const parsed = (kind === "docker" ? dockerSettingsSchema : commandSettingsSchema).safeParse(settings);
  return parsed.success ? null : parsed.error.issues.map((i) => `${i.path.join(".") || "settings"}: ${i.message}`).join("; ");
}
