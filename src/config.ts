import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { createRequire } from "node:module";
import * as z from "zod";
import { DURATION_SHAPE, parseDuration } from "./duration.js";
import { parseTrustProxy } from "./service/proxy-trust.js";
import { NAME, SLACK_USER_ID } from "./core/names.js";

/**
 * Every setting vmres reads, in one schema. Nothing else in the code reads
 * `process.env`: adapters get the parsed `Config` (or the parts they need).
 */
const slackUserIds = z
  .string()
  .default("")
  .transform((s, ctx) => {
    const ids = s.split(/[\s,]+/).filter(Boolean);
    for (const id of ids) {
      if (!SLACK_USER_ID.test(id)) {
        ctx.addIssue({ code: "custom", message: `Slack user IDs separated by commas or spaces (like U012ABCDEF,U034GHIJKL); "${id}" is not one` });
      }
    }
    return ids;
  });

/**
 * Every setting's error is "NAME must be <words>", the words saying what it takes (loadConfig);
 * zod's own texts ("expected number, received NaN") never reach a person. A whole number: any
 * mistake in it (not a number, a fraction, out of range) gets the same words, with the range.
 */
const int = (min: number, max: number, words = `a whole number from ${n(min)} to ${n(max)}`) =>
  z.coerce.number({ error: words }).int({ error: words }).min(min, { error: words }).max(max, { error: words });
/** A time in milliseconds, for the *_MS settings. */
const ms = (min: number, max: number) => int(min, max, `a number of milliseconds from ${n(min)} to ${n(max)}, like ${n(Math.min(max, Math.max(min, 5000)))}`);
/** A TCP port; 0 asks the system for any free one. */
const port = () => int(0, 65535, "a port number, 1–65535 (or 0 for any free port)");
/** 600000 → "600,000". */
function n(value: number): string {
  // Not toLocaleString: its first call loads ICU's locale data, 20 ms or more of every CLI call
  // (these words are built when the module loads). The bounds are whole numbers.
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
/** A path that may not be empty. */
const path = (what: string) => z.string().min(1, { error: `${what} (not empty)` });
const optionalText = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === "" ? undefined : s.trim()));

/** A duration setting (90m, 4h, 2d, 1d12h) in milliseconds; `zero` allows 0. */
function duration(fallback: string, zero: boolean) {
  return z
    .string()
    .trim()
    .default(fallback)
    .refine((text) => {
      const ms = parseDuration(text);
      return ms !== null && (zero || ms > 0);
    }, zero ? `${DURATION_SHAPE}, or 0m` : `${DURATION_SHAPE}, more than zero`)
    .transform((text) => parseDuration(text) ?? 0);
}

const RATE_SHAPE = "requests per time like 60/min, 10/s or 1000/h (a whole number from 1, then /s, /min or /h)";
const RECONCILE_WORDS = 'a cron expression (5 fields, or 6 with seconds first, like "* * * * *")';

export const configSchema = z.object({
  DATABASE_URL: optionalText.pipe(
    z.url({ protocol: /^postgres(ql)?$/, error: "expected a PostgreSQL URL like postgres://user:password@host:5432/database" }).optional(),
  ),
  EMBEDDED_PG_DIR: path("a folder path").default(".data/postgres"),
  EMBEDDED_PG_PORT: port().default(0),
  PORT: port().default(3000),
  /** Address the HTTP listener binds; 0.0.0.0 so a container's port mapping reaches it. */
  HOST: z.string().min(1, { error: "an address to listen on, like 0.0.0.0 (every interface) or 127.0.0.1" }).default("0.0.0.0"),
  /** Bearer token that lets other machines read /metrics (this machine always may). */
  METRICS_TOKEN: optionalText,
  /**
   * Reverse proxies whose X-Forwarded-For names the client, in Fastify's trustProxy sense: false
   * (none), true (every hop), a hop count, or addresses/CIDR ranges (loopback for a proxy on this host).
   */
  TRUST_PROXY: z
    .string()
    .default("false")
    .transform((text, ctx) => {
      const trust = parseTrustProxy(text);
      if (typeof trust === "object" && !Array.isArray(trust)) {
        ctx.addIssue({ code: "custom", message: `expected false, true, a hop count, or a comma-separated list of proxy addresses or CIDR ranges (like loopback or 10.0.0.0/8): ${trust.problem}` });
        return z.NEVER;
      }
      return trust;
    }),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], { error: "one of fatal, error, warn, info, debug, trace, silent" }).default("info"),
  /** How logs are written on stderr: `json` lines, `pretty` (for people), or `auto`: pretty when stderr is a terminal, else JSON. */
  LOG_FORMAT: z.enum(["auto", "json", "pretty"], { error: "one of auto, json, pretty" }).default("auto"),
  VMS_FILE: path("a file path").default("vms.yml"),
  DEFAULT_POOL: z
    .string()
    .regex(NAME, { error: "a pool name: lowercase letters, digits, . and -, starting with a letter or digit (like default or gpu)" })
    .default("default"),
  DEFAULT_POOL_QUOTA: int(1, 1000, "a number of VMs from 1 to 1,000").default(1),
  LOCK_TIMEOUT_MS: ms(100, 600_000).default(5000),
  SLACK_ADMINS: slackUserIds,
  /** Only admins (and each holder) see who holds a VM and read histories. */
  HIDE_HOLDERS: z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], { error: "expected true or false" })
    .default("false")
    .transform((v) => ["true", "1", "yes", "on"].includes(v)),
  SLACK_BOT_TOKEN: optionalText,
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_APP_TOKEN: optionalText,
  SLACK_API_URL: optionalText.pipe(z.url({ error: "expected an http(s) URL like https://slack.com/api/" }).optional()),
  SLACK_ADMIN_CHANNEL: optionalText,
  /** One Slack Web API call slower than this counts as failed (and is retried later). */
  SLACK_API_TIMEOUT_MS: ms(100, 120_000).default(10_000),
  /** First wait before retrying to reach Slack at start (doubles up to a minute). */
  SLACK_CONNECT_RETRY_BASE_MS: ms(10, 600_000).default(1000),
  /** How often the outbox dispatcher looks for notices queued by other processes (CLI, cleanup worker). */
  OUTBOX_POLL_INTERVAL_MS: ms(10, 600_000).default(1000),
  /** First wait after a failed delivery; doubles per attempt up to OUTBOX_BACKOFF_MAX_MS. */
  OUTBOX_BACKOFF_BASE_MS: ms(10, 3_600_000).default(5000),
  OUTBOX_BACKOFF_MAX_MS: ms(10, 86_400_000).default(900_000),
  /**
   * Connections of the outbox dispatcher's own pool (claims, step records, the DM's reads, Home
   * publishes), apart from the service's pool, so a burst of checkouts holding every connection of
   * that pool does not keep the DMs they caused waiting for one.
   */
  OUTBOX_DB_CONNECTIONS: int(1, 20, "a number of connections from 1 to 20").default(4),
  /** A delivery claimed longer ago than this belongs to a process that died; another takes it over. */
  OUTBOX_CLAIM_TIMEOUT_MS: ms(1000, 86_400_000).default(300_000),
  /** Log one line per delivered notice with when each part of its way to Slack happened (otherwise only at LOG_LEVEL=debug). */
  OUTBOX_TRACE: z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], { error: "expected true or false" })
    .default("false")
    .transform((v) => ["true", "1", "yes", "on"].includes(v)),
  /** How often the bot looks for people whose Slack name is unknown or older than a day (users.info). */
  SLACK_PROFILE_SWEEP_INTERVAL_MS: ms(10, 86_400_000).default(600_000),
  POOL_EXHAUSTED_ALERT_INTERVAL_MINUTES: int(0, 10_080, "a number of minutes from 0 (every time) to 10,080 (a week)").default(60),
  /**
   * A notice older than this (in ms; written 90m, 4h, 2d, 1d12h) is no longer sent: a DM is recorded as
   * expired, admin alerts are summarised in one message. 0: notices are sent however old.
   */
  NOTICE_MAX_AGE: z
    .string()
    .trim()
    .default("1h")
    .refine((text) => parseDuration(text) !== null, `${DURATION_SHAPE}, or 0 to send notices however old`)
    .transform((text) => parseDuration(text) ?? 0),
  /** Lease of a checkout that asks for none, where its pool sets none. */
  DEFAULT_LEASE: duration("8h", false),
  /** Longest lease (counted from the checkout's start), where the pool sets none. */
  MAX_LEASE: duration("7d", false),
  /** Latest start of a booking, counted from now, where the pool sets none (someone booked a whole pool for the year 9999). */
  MAX_BOOKING_AHEAD: duration("90d", false),
  /** Longest booking, where the pool sets none; unset: the pool's maximum lease. */
  MAX_BOOKING_LENGTH: z
    .string()
    .trim()
    .optional()
    .refine((text) => text === undefined || text === "" || (parseDuration(text) ?? 0) > 0, `${DURATION_SHAPE}, more than zero (or unset: each pool's maximum lease)`)
    .transform((text) => (text === undefined || text === "" ? null : (parseDuration(text) ?? 0))),
  /** Reminders before a lease ends, by DM: a comma-separated list of durations (empty: none). */
  REMINDER_LEADS: z
    .string()
    .trim()
    .default("1h,10m")
    .refine((text) => text === "" || text.split(",").every((t) => (parseDuration(t.trim()) ?? 0) > 0), `a comma-separated list of durations, each ${DURATION_SHAPE.replace(/^expected /, "")}, like 1h,10m (or empty for no reminders)`)
    .transform((text) => (text === "" ? [] : [...new Set(text.split(",").map((t) => parseDuration(t.trim()) ?? 0))].sort((a, b) => b - a))),
  /** Reminders before a booking starts, by DM: a comma-separated list of durations (empty: none). */
  RESERVATION_REMINDER: z
    .string()
    .trim()
    .default("1d,1h")
    .refine((text) => text === "" || text.split(",").every((t) => (parseDuration(t.trim()) ?? 0) > 0), `a comma-separated list of durations, each ${DURATION_SHAPE.replace(/^expected /, "")}, like 1d,1h (or empty for no reminders)`)
    .transform((text) => (text === "" ? [] : [...new Set(text.split(",").map((t) => parseDuration(t.trim()) ?? 0))].sort((a, b) => b - a))),
  /** Time after a lease's end before vmres checks the VM in by itself. */
  LEASE_GRACE: duration("15m", true),
  /** How long a VM is held for the first person in its pool's queue. */
  CLAIM_WINDOW: duration("10m", false),
  /** How often leases, reminders and claim windows are swept (one replica at a time). */
  LEASE_SWEEP_INTERVAL_MS: ms(100, 60_000).default(15_000),
  SSH_PRIVATE_KEY_FILE: path("a file path").default(join(homedir(), ".ssh", "id_ed25519")),
  /** `off`: this process runs no cleanup worker or reconciler (another replica does; tests of other parts). */
  CLEANUP_WORKER: z.enum(["on", "off"], { error: "on or off" }).default("on"),
  CLEANUP_CONCURRENCY: int(1, 256).default(8),
  CLEANUP_MAX_ATTEMPTS: int(1, 100).default(3),
  CLEANUP_CONNECT_TIMEOUT_MS: ms(100, 600_000).default(10_000),
  CLEANUP_COMMAND_TIMEOUT_MS: ms(100, 3_600_000).default(120_000),
  CLEANUP_BACKOFF_BASE_MS: ms(0, 3_600_000).default(30_000),
  CLEANUP_BACKOFF_MAX_MS: ms(0, 86_400_000).default(600_000),
  CLEANUP_KEEPALIVE_INTERVAL_MS: ms(0, 600_000).default(10_000),
  /** Added to connect + command timeout: a claim older than that belongs to a worker that died. */
  CLEANUP_CLAIM_MARGIN_MS: ms(0, 3_600_000).default(30_000),
  CLEANUP_POLL_INTERVAL_MS: ms(50, 600_000).default(2000),
  /** Running cleanups get this long to finish on SIGTERM; keep it below SHUTDOWN_TIMEOUT_MS. */
  CLEANUP_SHUTDOWN_GRACE_MS: ms(0, 600_000).default(7000),
  RECONCILE_CRON: z
    .string()
    .min(1, { error: RECONCILE_WORDS })
    .default("* * * * *")
    // node-cron is loaded only to check a schedule other than the default: every CLI call parses this schema.
    .refine((expr) => expr === "* * * * *" || (createRequire(import.meta.url)("node-cron") as typeof import("node-cron")).validate(expr), RECONCILE_WORDS),
  /**
   * The admin digest: when to post the admin report to SLACK_ADMIN_CHANNEL (a node-cron
   * expression, in the service's time zone, like "0 9 * * 1-5"); unset or `off`: never.
   */
  DIGEST_CRON: optionalText
    .transform((expr) => (expr === undefined || expr === "off" ? undefined : expr))
    // node-cron is loaded only when a schedule is set: every CLI call parses this schema.
    .refine(
      (expr) => expr === undefined || (createRequire(import.meta.url)("node-cron") as typeof import("node-cron")).validate(expr),
      'a cron expression (5 fields, or 6 with seconds first, like "0 9 * * 1-5" for 09:00 on weekdays), or off',
    ),
  SHUTDOWN_TIMEOUT_MS: ms(100, 600_000).default(10_000),
  /** Requests per API token per window, like 60/min (units: s, min, h): beyond it, 429 with Retry-After. Counted in PostgreSQL: it holds across replicas. */
  API_RATE_LIMIT: z
    .string()
    .trim()
    .default("60/min")
    .refine((text) => parseRate(text) !== null, RATE_SHAPE)
    .transform((text) => parseRate(text) ?? { max: 60, windowMs: 60_000 }),
  /** Requests per person (all their tokens together) per window; unset: the same as API_RATE_LIMIT. */
  API_PERSON_RATE_LIMIT: optionalText
    .refine((text) => text === undefined || parseRate(text) !== null, RATE_SHAPE)
    .transform((text) => (text === undefined ? undefined : (parseRate(text) ?? undefined))),
  /**
   * An Idempotency-Key's claim is renewed every third of this while its request runs; a claim
   * without an answer whose last renewal is older was left by a stopped process, and the next
   * retry with the key runs the request instead of being told it is still running.
   */
  IDEMPOTENCY_CLAIM_TIMEOUT_MS: ms(500, 3_600_000).default(30_000),
  /** Largest API request body in bytes; a larger one gets 413. */
  API_BODY_LIMIT: int(1024, 10_485_760, "a number of bytes from 1,024 to 10,485,760").default(65_536),
  /** Longest life of an API token (and the life of one asked for without `--expires`); a longer one is refused. */
  MAX_TOKEN_LIFETIME: duration("365d", false).refine((ms) => ms >= 60_000 && ms <= 3650 * 86_400_000, "expected a lifetime from 1m to 3650d, like 365d or 90d"),
  /**
   * How long a web page session lasts from sign-in (docs/web.md#sessions-and-security); then the person signs in
   * again. 12h: a working day, so a cookie left on a shared machine overnight no longer signs anyone in.
   */
  WEB_SESSION_LIFETIME: duration("12h", false).refine((ms) => ms >= 300_000 && ms <= 30 * 86_400_000, "expected a lifetime from 5m to 30d, like 12h or 7d"),
  /** Live-update streams (GET /web/events, one per open tab) one person may have open on one replica; one more is refused (429). */
  WEB_EVENT_STREAMS_PER_PERSON: int(1, 100, "a number of streams from 1 to 100").default(10),
  /** Live (unrevoked, unexpired) API tokens one person or service may hold. */
  MAX_TOKENS_PER_PERSON: int(1, 1000).default(5),
  /**
   * Requests one person may have waiting for a VM at once (API checkouts with `wait`, CLI `checkout --wait`),
   * counted across replicas; one more is refused (429 too_many_waits). Each waiting request holds a connection's
   * worth of attention: a cap keeps one person's scripts from multiplying it.
   */
  API_WAITS_PER_PERSON: int(1, 1000, "a number of waiting requests from 1 to 1,000").default(4),
  /** `off`: this process runs no provisioner (provider jobs, top-up, image sweep, provider listing); another replica must. */
  PROVISION_WORKER: z.enum(["on", "off"], { error: "on or off" }).default("on"),
  /** Provider jobs (create, save, delete) one process runs at once. */
  PROVISION_CONCURRENCY: int(1, 64).default(4),
  /** Attempts of a provider job before it fails for good (the person and admins told; an admin retries or abandons it). */
  PROVISION_MAX_ATTEMPTS: int(1, 100).default(3),
  /** First retry delay of a provider job, doubled per attempt. */
  PROVISION_BACKOFF_BASE_MS: ms(0, 3_600_000).default(10_000),
  /** Longest one provider call (create, stop, commit…) may take. */
  PROVIDER_TIMEOUT_MS: ms(100, 3_600_000).default(300_000),
  /** How long a created instance has to answer SSH. */
  PROVISION_SSH_TIMEOUT_MS: ms(100, 3_600_000).default(180_000),
  PROVISION_POLL_INTERVAL_MS: ms(50, 600_000).default(2000),
  /** A provider job's claim, renewed every quarter of this while it runs; older: its process died, and the job is due again. */
  PROVISION_CLAIM_TIMEOUT_MS: ms(200, 3_600_000).default(60_000),
  /** How often providers are listed for instances with the vmres label that vmres has no record of. */
  PROVIDER_LIST_INTERVAL_MS: ms(100, 86_400_000).default(300_000),
  /** What to do with such instances: `report` (to the admin channel) or `delete` (and report). */
  PROVIDER_ORPHANS: z.enum(["report", "delete"], { error: "report or delete" }).default("report"),
  /** How long an image replaced by a newer save of the same person and pool (dirty) is kept before it is deleted. */
  IMAGE_RETENTION: duration("7d", true),
  /**
   * OpenID Connect sign-in to the web page (docs/web.md): the issuer, the client registered there and
   * the redirect URL registered with it, all four or none (then only token sign-in).
   */
  OIDC_ISSUER_URL: optionalText.pipe(z.url({ protocol: /^https?$/, error: "expected the issuer's URL, like https://slack.com or https://keycloak.example.com/realms/main" }).optional()),
  OIDC_CLIENT_ID: optionalText,
  OIDC_CLIENT_SECRET: optionalText,
  OIDC_REDIRECT_URL: optionalText.pipe(z.url({ protocol: /^https?$/, error: "expected this service's callback URL as registered with the issuer, like https://vmres.example.com/auth/oidc/callback" }).optional()),
  /** Scopes asked for; `openid` is required. */
  OIDC_SCOPES: z
    .string()
    .trim()
    .default("openid email profile")
    .refine((text) => text.split(/\s+/).includes("openid"), "expected scopes separated by spaces, openid among them, like \"openid email profile\""),
  /** The claim that names the person: unset means Slack's user id claim for https://slack.com, else `email`. */
  OIDC_PERSON_CLAIM: optionalText,
  /** What the sign-in link says after "Sign in with": unset means Slack for https://slack.com, else the issuer's host. */
  OIDC_NAME: optionalText.pipe(z.string().max(60, { error: "a short name for the sign-in link (at most 60 characters), like Slack or Google" }).optional()),
});

/** Settings that only work together: OpenID Connect needs all four, or none. */
const OIDC_TOGETHER = ["OIDC_ISSUER_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_REDIRECT_URL"] as const;

const checkedSchema = configSchema.superRefine((config, ctx) => {
  // Plain HTTP would let anyone on the way read the client secret and forge sign-ins: only an issuer on this machine (a trial, a test).
  for (const name of ["OIDC_ISSUER_URL", "OIDC_REDIRECT_URL"] as const) {
    // (This check runs even when the field itself failed: a value that is no URL was reported there.)
    const value = config[name];
    const url = value !== undefined && URL.canParse(value) ? new URL(value) : null;
    if (url?.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname)) {
      ctx.addIssue({ code: "custom", path: [name], message: `an https:// URL (plain http only on this machine: localhost, 127.0.0.1 or [::1])` });
    }
  }
  // The callback is a route of the web page's: under /auth/ it can meet no page, API or Slack path.
  const redirect = config.OIDC_REDIRECT_URL !== undefined && URL.canParse(config.OIDC_REDIRECT_URL) ? new URL(config.OIDC_REDIRECT_URL) : null;
  if (redirect && (!/^\/auth\/[^?#]+$/.test(redirect.pathname) || redirect.pathname === "/auth/oidc/start")) {
    ctx.addIssue({ code: "custom", path: ["OIDC_REDIRECT_URL"], message: `a URL whose path is under /auth/ (like https://vmres.example.com/auth/oidc/callback), where vmres answers the callback; not ${redirect.pathname}` });
  }
  const set = OIDC_TOGETHER.filter((name) => config[name] !== undefined);
  if (set.length === 0 || set.length === OIDC_TOGETHER.length) return;
  // One line, on the first setting given (the one the operator was writing), naming those missing.
  const missing = OIDC_TOGETHER.filter((name) => config[name] === undefined);
  const listed = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)}`;
  ctx.addIssue({
    code: "custom",
    path: [set[0] as string],
    message: `set together with ${listed}, ${missing.length === 1 ? "which is" : "which are"} unset: OpenID Connect sign-in needs ${OIDC_TOGETHER.join(", ")} (or none of them, for token sign-in only)`,
  });
});

/** The slack.com issuer: "Sign in with Slack", whose ID token names the Slack user. */
export const SLACK_ISSUER = "https://slack.com";
/** The claim of Slack's ID token that carries the Slack user ID. */
export const SLACK_USER_CLAIM = "https://slack.com/user_id";

/** OpenID Connect sign-in as the web page uses it, its defaults filled in. */
export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  redirectUrl: URL;
  scopes: string;
  /** The claim naming the person; SLACK_USER_CLAIM matches Slack user IDs, any other a linked identity. */
  personClaim: string;
  /** "Slack" in "Sign in with Slack". */
  name: string;
}

/** The OpenID Connect settings, or null when sign-in is by token only. */
export function oidcSettings(config: Config): OidcSettings | null {
  const { OIDC_ISSUER_URL: issuer, OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret, OIDC_REDIRECT_URL: redirectUrl } = config;
  if (!issuer || !clientId || !clientSecret || !redirectUrl) return null;
  const url = new URL(issuer);
  const slack = url.origin === SLACK_ISSUER;
  return {
    issuer: url,
    clientId,
    clientSecret,
    redirectUrl: new URL(redirectUrl),
    scopes: config.OIDC_SCOPES,
    personClaim: config.OIDC_PERSON_CLAIM ?? (slack ? SLACK_USER_CLAIM : "email"),
    name: config.OIDC_NAME ?? (slack ? "Slack" : url.hostname),
  };
}

const RATE_UNITS: Record<string, number> = { s: 1000, sec: 1000, second: 1000, min: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000 };

/** `60/min` → 60 requests per 60 000 ms; null when malformed. */
export function parseRate(text: string): { max: number; windowMs: number } | null {
  const m = /^(\d{1,7})\/(s|sec|second|min|minute|h|hour)$/.exec(text);
  if (!m || Number(m[1]) < 1) return null;
  return { max: Number(m[1]), windowMs: RATE_UNITS[m[2] as string] as number };
}

/** The parsed, validated settings of one process. */
export type Config = z.infer<typeof configSchema>;

/** A setting was missing or malformed; the message names the variable. */
export class ConfigError extends Error {
  readonly code = "config_invalid";
}

/**
 * The configuration's relative paths (EMBEDDED_PG_DIR, VMS_FILE) taken from the
 * vmres installation folder, not the working folder, so the bot and the CLI
 * find the same data wherever each is started.
 */
export function withInstallPaths(config: Config, installRoot: string): Config {
  return { ...config, EMBEDDED_PG_DIR: resolve(installRoot, config.EMBEDDED_PG_DIR), VMS_FILE: resolve(installRoot, config.VMS_FILE) };
}

/**
 * Reads `.env` (if present, never overriding real environment variables) and
 * parses the result. A bad value throws a ConfigError naming each variable.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  dotenvPath: string | null = ".env",
): Config {
  const fromFile = dotenvPath && existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  const merged = { ...fromFile, ...env };
  // Parsed once per process, so without zod's compiled fast path for objects: building it (new
  // Function over every key) costs more than it saves on one parse, 5–20 ms of every CLI call.
  const parsed = checkedSchema.safeParse(merged, { jitless: true });
  if (!parsed.success) {
    // One line per variable (its first problem): "PORT must be a port number, 1–65535 (…), not "abc"".
    const seen = new Set<string>();
    const lines = parsed.error.issues.flatMap((issue) => {
      const name = issue.path.join(".");
      if (seen.has(name)) return [];
      seen.add(name);
      const words = issue.message.replace(/^expected /, "");
      // A message that quotes the value already ("alice" is not one) needs no ", not "alice"".
      const value = merged[name];
      const quoted = value !== undefined && !SECRET_BEARING.has(name) && words.includes(JSON.stringify(value));
      return [`  ${name} must be ${words}${quoted ? "" : shownValue(name, value)}.`];
    });
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/**
 * Variables whose values may carry credentials (a URL's password, a token, a
 * signing secret): an error names them and the shape they expect, never the value,
 * since start-up errors end up in terminals, CI logs and log collectors.
 */
const SECRET_BEARING = new Set(["OIDC_CLIENT_SECRET", "DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "METRICS_TOKEN"]);

/** How a bad value is shown in a configuration error: quoted, cut short, or withheld when it may be secret. */
export function describeValue(name: string, value: string | undefined): string {
  if (value === undefined) return "unset";
  if (SECRET_BEARING.has(name)) return `value not shown: it may hold a secret; ${value.length} characters`;
  return JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value);
}

/** `, not "abc"` after what a setting must be; a value that may be secret is described, never shown. */
function shownValue(name: string, value: string | undefined): string {
  if (value === undefined) return " (it is unset)";
  if (SECRET_BEARING.has(name)) return ` (its value is not shown, as it may hold a secret: ${value.length} character${value.length === 1 ? "" : "s"})`;
  return `, not ${describeValue(name, value)}`;
}
