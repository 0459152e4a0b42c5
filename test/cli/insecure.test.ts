import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteTarget } from "../../src/cli/remote/target.js";
import { cliFor, type CliRun } from "../helpers/cli.js";
import { personWithToken, startApiHarness, type Harness } from "../api/helpers.js";

/**
 * A token over plain http:// to another machine is refused unless --insecure,
 * as gh and kubectl do. The service listens on loopback only here; 0.0.0.0 is
 * not a loopback address by name, yet Linux connects it to this machine, so it
 * stands in for "another machine" that the test can still reach.
 */
let h: Harness;
let token: string;
let elsewhere: string;
const home = mkdtempSync(join(tmpdir(), "vmres-insecure-home-"));
const file = join(home, ".config", "vmres", "config.json");
const summary = (r: CliRun) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

beforeAll(async () => {
  h = await startApiHarness({ DEFAULT_POOL: "default" });
  token = (await personWithToken(h.core, "carol")).token;
  elsewhere = h.url.replace("127.0.0.1", "0.0.0.0");
}, 120_000);
afterAll(async () => {
  await h?.stop();
  rmSync(home, { recursive: true, force: true });
});

describe("plain http:// to another machine", { timeout: 180_000 }, () => {
  it("is refused for VMRES_URL with exit 2 and a word on why, and works with --insecure", async () => {
    const vmres = cliFor({ env: { HOME: home, VMRES_URL: elsewhere, VMRES_TOKEN: token }, timeoutMs: 60_000 });
    const refused = await vmres(["list"]);
    expect(refused.code, summary(refused)).toBe(2);
    expect(refused.stderr).toContain(`VMRES_URL is ${elsewhere}: plain http:// to another machine would send the API token unencrypted`);
    expect(refused.stderr).toContain("add --insecure to the command");
    const allowed = await vmres(["list", "--insecure", "--json"]);
    expect(allowed.code, summary(allowed)).toBe(0);
    expect(JSON.parse(allowed.stdout)).toEqual([]);
  });

  it("is refused by vmres login, which keeps nothing; --insecure keeps the consent for later commands", async () => {
    const vmres = cliFor({ env: { HOME: home }, timeoutMs: 60_000 });
    const refused = await vmres(["login", elsewhere, "--token", token]);
    expect(refused.code, summary(refused)).toBe(2);
    expect(refused.stderr).toContain(`add --insecure (vmres login ${elsewhere} --insecure)`);
    expect(existsSync(file)).toBe(false);

    const r = await vmres(["login", elsewhere, "--token", token, "--insecure"]);
    expect(r.code, summary(r)).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ url: elsewhere, token, insecure: true });
    const list = await vmres(["list", "--json"]);
    expect(list.code, summary(list)).toBe(0);
  });

  it("is allowed without a word to loopback and over https://", () => {
    for (const url of ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000", "https://vmres.example.com"]) {
      expect(remoteTarget({ VMRES_URL: url, VMRES_TOKEN: "vmres_x" })).toMatchObject({ url });
    }
    expect(remoteTarget({ VMRES_URL: "http://vmres.example.com", VMRES_TOKEN: "vmres_x" })).toMatchObject({ code: "insecure_url" });
    expect(remoteTarget({ VMRES_URL: "http://vmres.example.com", VMRES_TOKEN: "vmres_x" }, true)).toMatchObject({ url: "http://vmres.example.com" });
  });
});
