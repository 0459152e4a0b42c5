/**
 * manifest.yml is what an admin pastes into Slack to create the app; a mistake
 * there shows up only at install time, in someone else's workspace. These
 * checks hold it to what the code needs and to the limits Slack enforces
 * (documented in @slack/web-api's Manifest type).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { webApi } from "@slack/bolt";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";

/** Slack's own manifest type, as apps.manifest.create takes it. */
type Manifest = webApi.AppsManifestCreateArguments["manifest"];

const manifestPath = fileURLToPath(new URL("../manifest.yml", import.meta.url));
const manifest = parse(readFileSync(manifestPath, "utf8")) as Manifest;
const commands = manifest.features?.slash_commands ?? [];

describe("manifest.yml", () => {
  it("names the app and its bot vmres within Slack's length limits", () => {
    expect(manifest.display_information.name).toBe("vmres");
    expect(manifest.display_information.name.length).toBeLessThanOrEqual(35);
    expect(manifest.display_information.description?.length ?? 0).toBeGreaterThan(0);
    expect(manifest.display_information.description?.length ?? 0).toBeLessThanOrEqual(140);
    const long = manifest.display_information.long_description;
    // Slack refuses a long description under 174 characters.
    if (long !== undefined) expect(long.length).toBeGreaterThanOrEqual(174);
    expect(manifest.features?.bot_user?.display_name).toMatch(/^[a-z0-9._-]{1,80}$/);
  });

  it("offers /vm with a description and a usage hint naming every subcommand", () => {
    const vm = commands.find((c) => c.command === "/vm");
    expect(vm).toBeDefined();
    expect(vm?.should_escape).toBe(false);
    for (const sub of ["checkout", "checkin", "list", "status", "help", "admin"]) {
      expect(vm?.usage_hint).toContain(sub);
    }
  });

  it("gives every slash command a description Slack accepts", () => {
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) {
      expect(c.command).toMatch(/^\/[a-z0-9_-]{1,31}$/);
      expect(c.description.trim().length).toBeGreaterThan(0);
      expect(c.description.length).toBeLessThanOrEqual(2000);
      expect(c.usage_hint?.length ?? 0).toBeLessThanOrEqual(1000);
    }
  });

  it("subscribes to app_home_opened so the Home tab gets published", () => {
    expect(manifest.settings?.event_subscriptions?.bot_events).toContain("app_home_opened");
    expect(manifest.features?.app_home?.home_tab_enabled).toBe(true);
  });

  it("asks for the bot scopes vmres calls and no more", () => {
    const scopes = manifest.oauth_config?.scopes?.bot ?? [];
    expect(scopes).toEqual(expect.arrayContaining(["commands", "chat:write", "im:write", "users:read"]));
    // Every extra scope is one more thing an admin must approve at install.
    expect(scopes.filter((s) => !["commands", "chat:write", "im:write", "im:history", "channels:history", "groups:history", "users:read"].includes(s))).toEqual([]);
  });

  it("runs in Socket Mode with interactivity on, so no public URL is needed", () => {
    expect(manifest.settings?.socket_mode_enabled).toBe(true);
    expect(manifest.settings?.interactivity?.is_enabled).toBe(true);
    expect(manifest.settings?.org_deploy_enabled).toBe(false);
    expect(manifest.settings?.token_rotation_enabled).toBe(false);
  });

  it("tells the reader how to switch to HTTP request URLs", () => {
    const text = readFileSync(manifestPath, "utf8");
    expect(text).toContain("socket_mode_enabled to false");
    expect(text).toContain("https://<your-host>/slack/events");
  });
});
