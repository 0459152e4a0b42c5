import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

function configErrorOf(env: Record<string, string>): string {
  try {
    loadConfig(env, null);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a configuration error");
}

describe("configuration errors", () => {
  it("a malformed DATABASE_URL is named with the shape expected, and its password is never printed", () => {
    const message = configErrorOf({ DATABASE_URL: "postgresql+asyncpg://vmres:S3cretPassw0rd@db.example:5432/vmres" });
    expect(message).toContain("DATABASE_URL");
    expect(message).toContain("postgres://user:password@host:5432/database");
    expect(message).not.toContain("S3cretPassw0rd");
    expect(message).not.toContain("vmres:");
  });

  it("no secret-bearing value is echoed, whatever is wrong with it", () => {
    const message = configErrorOf({
      SLACK_API_URL: "not a url with xoxb-leaked-token",
      DATABASE_URL: "mysql://root:hunter2@db/vmres",
      PORT: "not-a-port",
    });
    expect(message).toContain("SLACK_API_URL");
    expect(message).toContain("DATABASE_URL");
    expect(message).not.toContain("hunter2");
    expect(message).not.toContain("xoxb-leaked-token");
    // Ordinary values are still shown, as they help to spot the typo.
    expect(message).toContain('PORT ("not-a-port")');
  });
});

describe("paths in the configuration", () => {
  it("relative ones are taken from the installation folder, absolute ones kept", async () => {
    const { withInstallPaths } = await import("../../src/config.js");
    const config = withInstallPaths(loadConfig({ VMS_FILE: "/etc/vmres/vms.yml" }, null), "/opt/vmres");
    expect(config.EMBEDDED_PG_DIR).toBe("/opt/vmres/.data/postgres");
    expect(config.VMS_FILE).toBe("/etc/vmres/vms.yml");
  });

  it("a schedule other than the default is still checked", () => {
    expect(() => loadConfig({ RECONCILE_CRON: "every minute" }, null)).toThrow(/RECONCILE_CRON.*not a cron expression/s);
    expect(loadConfig({ RECONCILE_CRON: "*/5 * * * *" }, null).RECONCILE_CRON).toBe("*/5 * * * *");
  });

  it("token limits default to 365d and 5 tokens, and a bad one names the setting and what it expects", () => {
    const config = loadConfig({}, null);
    expect([config.MAX_TOKEN_LIFETIME, config.MAX_TOKENS_PER_PERSON]).toEqual([365 * 86_400_000, 5]);
    expect(() => loadConfig({ MAX_TOKEN_LIFETIME: "3651d" }, null)).toThrow(/MAX_TOKEN_LIFETIME.*from 1m to 3650d/s);
    expect(() => loadConfig({ MAX_TOKEN_LIFETIME: "forever" }, null)).toThrow(/MAX_TOKEN_LIFETIME.*duration/s);
    expect(() => loadConfig({ MAX_TOKENS_PER_PERSON: "0" }, null)).toThrow(/MAX_TOKENS_PER_PERSON/);
  });

  it("the per-person rate limit defaults to the per-token one, the claim timeout to 30 s, and a bad one names the setting", () => {
    const config = loadConfig({ API_RATE_LIMIT: "10/s" }, null);
    expect([config.API_PERSON_RATE_LIMIT ?? config.API_RATE_LIMIT, config.IDEMPOTENCY_CLAIM_TIMEOUT_MS]).toEqual([{ max: 10, windowMs: 1000 }, 30_000]);
    expect(loadConfig({ API_PERSON_RATE_LIMIT: "100/h" }, null).API_PERSON_RATE_LIMIT).toEqual({ max: 100, windowMs: 3_600_000 });
    expect(() => loadConfig({ API_PERSON_RATE_LIMIT: "lots" }, null)).toThrow(/API_PERSON_RATE_LIMIT.*60\/min/s);
    expect(() => loadConfig({ IDEMPOTENCY_CLAIM_TIMEOUT_MS: "10" }, null)).toThrow(/IDEMPOTENCY_CLAIM_TIMEOUT_MS/);
  });
});
