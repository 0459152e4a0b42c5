/**
 * manifest.yml and manifest.http.yml are what an admin pastes into Slack to
 * create the app; a mistake there shows up only at install time, in someone
 * else's workspace. Both are generated (src/slack/manifest.ts, printed by
 * `vmres slack manifest`): these checks hold the committed files to the
 * generator, the generator to what the code calls, and both to the limits
 * Slack enforces (documented in @slack/web-api's Manifest type).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { webApi } from "@slack/bolt";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { GRAMMAR } from "../src/commands/grammar.js";
import { isAdminIn, offers } from "../src/commands/spec.js";
import { helpMessage } from "../src/slack/views/help.js";
import { BOT_EVENTS, BOT_SCOPES, manifestYaml, PLACEHOLDER_URL, SCOPELESS_METHODS, usageHint, type ManifestMode } from "../src/slack/manifest.js";
import { cliFor } from "./helpers/cli.js";

/** Slack's own manifest type, as apps.manifest.create takes it. */
type Manifest = webApi.AppsManifestCreateArguments["manifest"];

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
const COMMITTED: [string, ManifestMode][] = [
  ["manifest.yml", { kind: "socket" }],
  ["manifest.http.yml", { kind: "http", url: PLACEHOLDER_URL }],
];

describe.each(COMMITTED)("%s", (file, mode) => {
  const manifest = parse(read(file)) as Manifest;
  const commands = manifest.features?.slash_commands ?? [];

  it("is what vmres slack manifest generates today (regenerate it rather than edit it)", () => {
    const again = mode.kind === "socket" ? "vmres slack manifest > manifest.yml" : `vmres slack manifest --url ${PLACEHOLDER_URL} > manifest.http.yml`;
    expect(read(file), `${file} differs from what the code generates: ${again}`).toBe(`${manifestYaml(mode)}\n`);
  });

  it("names the app and its bot vmres within Slack's length limits", () => {
    expect(manifest.display_information.name).toBe("vmres");
    expect(manifest.display_information.description?.length ?? 0).toBeGreaterThan(0);
    expect(manifest.display_information.description?.length ?? 0).toBeLessThanOrEqual(140);
    // Slack refuses a long description under 174 characters or over 4000.
    const long = manifest.display_information.long_description ?? "";
    expect(long.length).toBeGreaterThanOrEqual(174);
    expect(long.length).toBeLessThanOrEqual(4000);
    expect(manifest.features?.bot_user?.display_name).toMatch(/^[a-z0-9._-]{1,80}$/);
  });

  it("offers /vm, unescaped, with a description and a usage hint Slack accepts", () => {
    expect(commands.map((c) => c.command)).toEqual(["/vm"]);
    const vm = commands[0]!;
    expect(vm.should_escape).toBe(false);
    expect(vm.description.trim().length).toBeGreaterThan(0);
    expect(vm.description.length).toBeLessThanOrEqual(2000);
    expect(vm.usage_hint?.length ?? 0).toBeLessThanOrEqual(1000);
  });

  it("subscribes to app_home_opened so the Home tab gets published, with interactivity for the buttons", () => {
    expect(manifest.settings?.event_subscriptions?.bot_events).toEqual(["app_home_opened"]);
    expect(manifest.features?.app_home?.home_tab_enabled).toBe(true);
    expect(manifest.settings?.interactivity?.is_enabled).toBe(true);
    expect(manifest.settings?.org_deploy_enabled).toBe(false);
    expect(manifest.settings?.token_rotation_enabled).toBe(false);
  });

  it("asks for the bot scopes vmres calls and no more", () => {
    expect(manifest.oauth_config?.scopes?.bot).toEqual(["commands", "chat:write", "im:write", "im:history", "channels:history", "groups:history", "users:read"]);
  });

  if (mode.kind === "socket") {
    it("runs in Socket Mode, with no request URL anywhere", () => {
      expect(manifest.settings?.socket_mode_enabled).toBe(true);
      expect(read(file)).not.toContain("url:");
    });
  } else {
    it("sends slash commands, clicks and events to the placeholder host's /slack/events, Socket Mode off", () => {
      const at = `${PLACEHOLDER_URL}/slack/events`;
      expect(manifest.settings?.socket_mode_enabled).toBe(false);
      expect(commands[0]?.url).toBe(at);
      expect(manifest.settings?.interactivity?.request_url).toBe(at);
      expect(manifest.settings?.event_subscriptions?.request_url).toBe(at);
      expect(read(file)).toContain("vmres slack manifest --url https://<your-host>");
      expect(read(file)).not.toContain("npx vmres");
    });

    it("sets up the web page's Sign in with Slack: its callback as the redirect URL, and the OpenID user scopes only", () => {
      expect(manifest.oauth_config?.redirect_urls).toEqual([`${PLACEHOLDER_URL}/auth/oidc/callback`]);
      expect(manifest.oauth_config?.scopes?.user).toEqual(["openid", "email", "profile"]);
      expect(read(file)).toContain(`OIDC_REDIRECT_URL=${PLACEHOLDER_URL}/auth/oidc/callback`);
    });
  }
});

describe("the /vm usage hint", () => {
  it("names every command /vm help shows everyone, in the same order, and no admin command", () => {
    const hint = usageHint();
    const everyone = GRAMMAR.filter((c) => offers(c, "slack") && !isAdminIn(c, "slack")).map((c) => c.words.join(" "));
    expect(hint.split(" | ").map((part) => part.split(" ").filter((w) => /^[a-z-]+$/.test(w)).join(" "))).toEqual(everyone);
    const help = helpMessage({ isAdmin: false, adminTopic: false }).text;
    for (const words of everyone) expect(help).toContain(`/vm ${words}`);
    expect(hint).not.toMatch(/\bpool (add|set|remove|drain|repair)\b|\badmin\b/);
  });
});

/** Every `client.<family>.<method>(` call and `app.event("…")` listener under src/slack. */
function slackCalls(): { methods: Set<string>; events: Set<string> } {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : name.endsWith(".ts") ? [join(dir, name)] : []));
  const methods = new Set<string>();
  const events = new Set<string>();
  for (const file of files(join(ROOT, "src/slack"))) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/client\.(chat|conversations|users|views|auth|reactions|files|pins|team|usergroups|bookmarks|apps|bots|dnd|emoji|reminders|search|stars)\.([a-zA-Z]+)\(/g)) {
      methods.add(`${m[1]}.${m[2]}`);
    }
    for (const m of text.matchAll(/app\.event\("([a-z_]+)"/g)) events.add(m[1]!);
  }
  return { methods, events };
}

describe("the scopes", () => {
  it("cover exactly the Web API methods src/slack calls, and the events it listens to", () => {
    const { methods, events } = slackCalls();
    const covered = new Set([...BOT_SCOPES.flatMap((s) => s.methods.filter((m) => m !== "/vm")), ...SCOPELESS_METHODS]);
    expect([...methods].sort(), "a method vmres calls is missing from BOT_SCOPES or SCOPELESS_METHODS, or one listed is no longer called").toEqual([...covered].sort());
    expect([...events].sort()).toEqual([...BOT_EVENTS].sort());
  });

  it("are each explained in docs/slack.md's table, with the methods that need them", () => {
    const docs = read("docs/slack.md");
    for (const { scope, methods } of BOT_SCOPES) {
      const row = docs.split("\n").find((line) => line.startsWith(`| \`${scope}\` |`));
      expect(row, `docs/slack.md has no table row for ${scope}`).toBeDefined();
      for (const method of methods) expect(row).toContain(method);
    }
  });
});

describe("vmres slack manifest", { timeout: 60_000 }, () => {
  const vmres = cliFor({});

  it("prints the Socket Mode manifest without --url, and the HTTP one for the URL given", async () => {
    const [socket, http] = await Promise.all([vmres(["slack", "manifest"]), vmres(["slack", "manifest", "--url", "https://vm.example.org/"])]);
    expect(socket).toMatchObject({ code: 0, stdout: read("manifest.yml") });
    expect(http.code).toBe(0);
    const manifest = parse(http.stdout) as Manifest;
    expect(manifest.features?.slash_commands?.[0]?.url).toBe("https://vm.example.org/slack/events");
    expect(manifest.settings?.interactivity?.request_url).toBe("https://vm.example.org/slack/events");
    expect(manifest.settings?.socket_mode_enabled).toBe(false);
  });

  it("refuses a URL Slack could not post to, or one already ending in /slack/events, saying what to give", async () => {
    const runs = await Promise.all([
      vmres(["slack", "manifest", "--url", "http://vm.example.org"]),
      vmres(["slack", "manifest", "--url", "vm.example.org"]),
      vmres(["slack", "manifest", "--url", "https://vm.example.org/slack/events"]),
      vmres(["slack", "manifest", "--url", "https://vm.example.org", "--socket"]),
    ]);
    for (const r of runs) expect(r).toMatchObject({ code: 2, stdout: "" });
    expect(runs[0]!.stderr).toContain("--url must be an https:// URL");
    expect(runs[1]!.stderr).toContain("--url is not a URL");
    expect(runs[2]!.stderr).toContain("without /slack/events (the manifest adds it): https://vm.example.org");
    expect(runs[3]!.stderr).toContain("--url and --socket exclude each other");
  });
});
