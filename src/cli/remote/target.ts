import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { EXIT, failure, type Failure } from "../failures.js";

/**
 * Where the CLI sends person-level commands when it works over the HTTP API
 * instead of the database: `VMRES_URL` and `VMRES_TOKEN`, or what `vmres login`
 * kept in `~/.config/vmres/config.json` (mode 0600). The environment wins over
 * the file, so a CI job's variables are never shadowed by a developer's login.
 */
export interface Target {
  url: string;
  token: string;
  /** Where it came from, for messages: "VMRES_URL/VMRES_TOKEN" or the file's path. */
  from: string;
}

/** `$XDG_CONFIG_HOME/vmres/config.json`, else `~/.config/vmres/config.json`. */
export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env["XDG_CONFIG_HOME"] && env["XDG_CONFIG_HOME"].startsWith("/") ? env["XDG_CONFIG_HOME"] : join(env["HOME"] || homedir(), ".config");
  return join(base, "vmres", "config.json");
}

/**
 * The API to use, null for the database (direct mode), or why the settings are
 * unusable (nothing is sent then). `insecure`: --insecure was given, so an
 * http:// URL to another machine is allowed (see `checkTransport`).
 */
export function remoteTarget(env: NodeJS.ProcessEnv = process.env, insecure = false): Target | null | Failure {
  const url = env["VMRES_URL"]?.trim() || undefined;
  const token = env["VMRES_TOKEN"]?.trim() || undefined;
  if (url !== undefined || token !== undefined) {
    if (url === undefined) return failure(EXIT.usage, "remote_settings", "VMRES_TOKEN is set but VMRES_URL is not: set both (VMRES_URL=https://vmres.example.com) to use the API, or neither to use the database.");
    if (token === undefined) {
      return failure(EXIT.usage, "remote_settings", "VMRES_URL is set but VMRES_TOKEN is not: set both to use the API (an admin makes tokens with `vmres token create`; in Slack, `/vm token`), or neither to use the database.");
    }
    const checked = checkUrl(url, "VMRES_URL");
    if (typeof checked !== "string") return checked;
    return checkTransport(checked, "VMRES_URL", insecure, "add --insecure to the command") ?? { url: checked, token, from: "VMRES_URL/VMRES_TOKEN" };
  }
  return readLogin(configFile(env), insecure);
}

/** localhost, 127.0.0.0/8 and ::1: a token sent there over http:// never leaves this machine. */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Refuses to send a token over plain http:// to another machine, where anyone
 * on the path could read it and act as its person, unless the person said
 * --insecure (as gh and kubectl ask). null when the URL may be used.
 */
export function checkTransport(url: string, what: string, insecure: boolean, howToAllow: string): Failure | null {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" || insecure || isLoopbackHost(parsed.hostname)) return null;
  return failure(
    EXIT.usage,
    "insecure_url",
    `${what} is ${url}: plain http:// to another machine would send the API token unencrypted, for anyone on the network to read. ` +
      `Use https:// (a TLS reverse proxy in front of vmres), or, if the network is trusted, ${howToAllow}.`,
  );
}

/** A base URL the API can be reached at (no trailing slash), or why not. */
export function checkUrl(raw: string, what: string): string | Failure {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return failure(EXIT.usage, "remote_settings", `${what} is not a URL: give the address vmres answers at, like https://vmres.example.com or http://127.0.0.1:3000.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return failure(EXIT.usage, "remote_settings", `${what} must be an http:// or https:// URL, not ${url.protocol}`);
  if (url.username || url.password) return failure(EXIT.usage, "remote_settings", `${what} must not carry a user or password: the token goes in VMRES_TOKEN.`);
  if (url.search || url.hash) return failure(EXIT.usage, "remote_settings", `${what} must be the service's address alone, without ?query or #fragment.`);
  return url.toString().replace(/\/+$/, "");
}

/**
 * What `vmres login` kept, if anything. Only a file of this OS user counts: one
 * in a home it cannot enter, or another account's (HOME kept by `sudo -u`), is
 * not its login. A file others may read is refused, as ssh refuses such a key.
 */
function readLogin(file: string, insecure: boolean): Target | null | Failure {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return null;
  }
  if (process.getuid && stat.uid !== process.getuid()) return null;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return failure(EXIT.notReady, "remote_settings", `cannot read ${file} (${(err as Error).message}); fix its permissions or run vmres logout.`);
  }
  if ((stat.mode & 0o077) !== 0) {
    return failure(EXIT.notReady, "remote_settings", `${file} holds an API token but others may read it: chmod 600 ${file} (or run vmres login again).`);
  }
  let kept: unknown;
  try {
    kept = JSON.parse(text);
  } catch {
    return failure(EXIT.notReady, "remote_settings", `${file} is not JSON: run vmres login URL again, or vmres logout to use the database.`);
  }
  const { url, token, insecure: keptInsecure } = (kept ?? {}) as { url?: unknown; token?: unknown; insecure?: unknown };
  if (typeof url !== "string" || typeof token !== "string" || token === "") {
    return failure(EXIT.notReady, "remote_settings", `${file} lacks "url" or "token": run vmres login URL again, or vmres logout to use the database.`);
  }
  const checked = checkUrl(url, `"url" in ${file}`);
  if (typeof checked !== "string") return checked;
  // `vmres login URL --insecure` keeps the consent with the URL it was given for.
  const refused = checkTransport(checked, `"url" in ${file}`, insecure || keptInsecure === true, `run vmres login ${checked} --insecure`);
  return refused ?? { url: checked, token, from: file };
}

/** Keeps the login for later calls: the folder 0700, the file 0600 from its first byte, replaced atomically. */
export function saveLogin(file: string, login: { url: string; token: string; insecure?: true }): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(login, null, 2) + "\n", { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

/** Forgets the login; true when there was one. */
export function forgetLogin(file: string): boolean {
  try {
    statSync(file);
  } catch {
    return false;
  }
  rmSync(file);
  return true;
}
