import { describe, expect, it } from "vitest";
import { ConfigError, configSchema, loadConfig, oidcSettings } from "../../src/config.js";

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
    expect(message).toContain('PORT must be a port number, 1–65535 (or 0 for any free port), not "not-a-port".');
  });
});

describe("a bad setting is told in words: the variable, what it takes, and the value given", () => {
  const cases: [Record<string, string>, string][] = [
    [{ PORT: "abc" }, 'PORT must be a port number, 1–65535 (or 0 for any free port), not "abc".'],
    [{ PORT: "70000" }, 'PORT must be a port number, 1–65535 (or 0 for any free port), not "70000".'],
    [{ LOCK_TIMEOUT_MS: "1.5" }, 'LOCK_TIMEOUT_MS must be a number of milliseconds from 100 to 600,000, like 5,000, not "1.5".'],
    [{ DEFAULT_POOL_QUOTA: "lots" }, 'DEFAULT_POOL_QUOTA must be a number of VMs from 1 to 1,000, not "lots".'],
    [{ CLEANUP_CONCURRENCY: "0" }, 'CLEANUP_CONCURRENCY must be a whole number from 1 to 256, not "0".'],
    [{ LOG_LEVEL: "loud" }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud".'],
    [{ CLEANUP_WORKER: "yes" }, 'CLEANUP_WORKER must be on or off, not "yes".'],
    [{ HIDE_HOLDERS: "maybe" }, 'HIDE_HOLDERS must be true or false, not "maybe".'],
    [{ DEFAULT_POOL: "GPU pool" }, 'DEFAULT_POOL must be a pool name: lowercase letters, digits, . and -, starting with a letter or digit (like default or gpu), not "GPU pool".'],
    [{ SLACK_ADMINS: "U012ABCDEF,alice" }, 'SLACK_ADMINS must be Slack user IDs separated by commas or spaces (like U012ABCDEF,U034GHIJKL); "alice" is not one, not "U012ABCDEF,alice".'],
    [{ DEFAULT_LEASE: "1 hour" }, 'DEFAULT_LEASE must be a duration like 90m, 4h, 2d or 1d12h (whole numbers, units d, h, m, s, largest first), more than zero, not "1 hour".'],
    [{ RECONCILE_CRON: "often" }, 'RECONCILE_CRON must be a cron expression (5 fields, or 6 with seconds first, like "* * * * *"), not "often".'],
    [{ API_RATE_LIMIT: "lots" }, 'API_RATE_LIMIT must be requests per time like 60/min, 10/s or 1000/h (a whole number from 1, then /s, /min or /h), not "lots".'],
    [{ HOST: "" }, 'HOST must be an address to listen on, like 0.0.0.0 (every interface) or 127.0.0.1, not "".'],
    [{ SLACK_API_URL: "x" }, "SLACK_API_URL must be an http(s) URL like https://slack.com/api/ (its value is not shown, as it may hold a secret: 1 character)."],
  ];

  it.each(cases)("%o", (env, line) => {
    expect(configErrorOf(env)).toBe(`invalid configuration:\n  ${line}`);
  });

  it("every setting given a value it cannot take says what it takes, never in zod's words", () => {
    for (const name of Object.keys(configSchema.shape)) {
      for (const bad of ["???", "", "-1"]) {
        let message: string;
        try {
          loadConfig({ [name]: bad }, null);
          continue; // a free text setting (a token, a channel) takes it
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message, `${name}=${bad}`).toMatch(new RegExp(`^invalid configuration:\n  ${name} must be \\S`));
        expect(message, `${name}=${bad}`).not.toMatch(/Invalid input|received|Too (small|big)|expected (number|string|one of)|Invalid (string|option|URL)/);
      }
    }
  });
});

describe("OpenID Connect settings", () => {
  const all = { OIDC_ISSUER_URL: "https://id.example.com/realms/main", OIDC_CLIENT_ID: "vmres", OIDC_CLIENT_SECRET: "s3cret-of-the-client", OIDC_REDIRECT_URL: "https://vmres.example.com/auth/oidc/callback" };

  it("are all four or none: a missing one is named, and the secret is never shown", () => {
    const { OIDC_CLIENT_SECRET: _secret, OIDC_REDIRECT_URL: _redirect, ...two } = all;
    const message = configErrorOf(two);
    expect(message).toContain("OIDC_ISSUER_URL must be set together with OIDC_CLIENT_SECRET and OIDC_REDIRECT_URL, which are unset");
    const secretOnly = configErrorOf({ OIDC_CLIENT_SECRET: "s3cret-of-the-client" });
    expect(secretOnly).toContain("OIDC_CLIENT_SECRET must be set together with OIDC_ISSUER_URL, OIDC_CLIENT_ID and OIDC_REDIRECT_URL");
    expect(secretOnly).not.toContain("s3cret-of-the-client");
    expect(oidcSettings(loadConfig({}, null))).toBeNull();
  });

  it("take plain http only for an issuer on this machine", () => {
    expect(configErrorOf({ ...all, OIDC_ISSUER_URL: "http://id.example.com" })).toContain("OIDC_ISSUER_URL must be an https:// URL (plain http only on this machine");
    expect(oidcSettings(loadConfig({ ...all, OIDC_ISSUER_URL: "http://127.0.0.1:8080" }, null))?.issuer.href).toBe("http://127.0.0.1:8080/");
  });

  it("answer the callback only under /auth/, where no page, API or Slack path is", () => {
    expect(configErrorOf({ ...all, OIDC_REDIRECT_URL: "https://vmres.example.com/v1/me" })).toContain("OIDC_REDIRECT_URL must be a URL whose path is under /auth/");
    expect(configErrorOf({ ...all, OIDC_REDIRECT_URL: "https://vmres.example.com/auth/oidc/start" })).toContain("not /auth/oidc/start");
    expect(oidcSettings(loadConfig({ ...all, OIDC_REDIRECT_URL: "https://vmres.example.com/auth/keycloak" }, null))?.redirectUrl.pathname).toBe("/auth/keycloak");
  });

  it("default to Slack's user id claim and the name Slack for https://slack.com, to email and the host elsewhere", () => {
    expect(oidcSettings(loadConfig({ ...all, OIDC_ISSUER_URL: "https://slack.com" }, null))).toMatchObject({ personClaim: "https://slack.com/user_id", name: "Slack", scopes: "openid email profile" });
    expect(oidcSettings(loadConfig(all, null))).toMatchObject({ personClaim: "email", name: "id.example.com" });
    expect(configErrorOf({ ...all, OIDC_SCOPES: "email profile" })).toContain("OIDC_SCOPES must be scopes separated by spaces, openid among them");
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
    expect(() => loadConfig({ RECONCILE_CRON: "every minute" }, null)).toThrow(/RECONCILE_CRON must be a cron expression/s);
    expect(loadConfig({ RECONCILE_CRON: "*/5 * * * *" }, null).RECONCILE_CRON).toBe("*/5 * * * *");
  });

  it("token limits default to 365d and 5 tokens, and a bad one names the setting and what it expects", () => {
    const config = loadConfig({}, null);
    expect([config.MAX_TOKEN_LIFETIME, config.MAX_TOKENS_PER_PERSON]).toEqual([365 * 86_400_000, 5]);
    expect(() => loadConfig({ MAX_TOKEN_LIFETIME: "3651d" }, null)).toThrow(/MAX_TOKEN_LIFETIME.*from 1m to 3650d/s);
    expect(() => loadConfig({ MAX_TOKEN_LIFETIME: "forever" }, null)).toThrow(/MAX_TOKEN_LIFETIME.*duration/s);
    expect(() => loadConfig({ MAX_TOKENS_PER_PERSON: "0" }, null)).toThrow(/MAX_TOKENS_PER_PERSON/);
  });

  it("web sessions last 12h and a person may open 10 live streams by default, and a bad value names the setting and what it expects", () => {
    const config = loadConfig({}, null);
    expect([config.WEB_SESSION_LIFETIME, config.WEB_EVENT_STREAMS_PER_PERSON]).toEqual([12 * 3_600_000, 10]);
    expect(loadConfig({ WEB_SESSION_LIFETIME: "7d" }, null).WEB_SESSION_LIFETIME).toBe(7 * 86_400_000);
    expect(() => loadConfig({ WEB_SESSION_LIFETIME: "1m" }, null)).toThrow(/WEB_SESSION_LIFETIME.*from 5m to 30d/s);
    expect(() => loadConfig({ WEB_SESSION_LIFETIME: "a day" }, null)).toThrow(/WEB_SESSION_LIFETIME.*duration/s);
    expect(() => loadConfig({ WEB_EVENT_STREAMS_PER_PERSON: "0" }, null)).toThrow(/WEB_EVENT_STREAMS_PER_PERSON.*from 1 to 100/s);
  });

  it("the per-person rate limit defaults to the per-token one, the claim timeout to 30 s, and a bad one names the setting", () => {
    const config = loadConfig({ API_RATE_LIMIT: "10/s" }, null);
    expect([config.API_PERSON_RATE_LIMIT ?? config.API_RATE_LIMIT, config.IDEMPOTENCY_CLAIM_TIMEOUT_MS]).toEqual([{ max: 10, windowMs: 1000 }, 30_000]);
    expect(loadConfig({ API_PERSON_RATE_LIMIT: "100/h" }, null).API_PERSON_RATE_LIMIT).toEqual({ max: 100, windowMs: 3_600_000 });
    expect(() => loadConfig({ API_PERSON_RATE_LIMIT: "lots" }, null)).toThrow(/API_PERSON_RATE_LIMIT.*60\/min/s);
    expect(() => loadConfig({ IDEMPOTENCY_CLAIM_TIMEOUT_MS: "10" }, null)).toThrow(/IDEMPOTENCY_CLAIM_TIMEOUT_MS/);
  });
});
