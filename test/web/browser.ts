import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startSession } from "../../src/core/web-sessions.js";
import type { Core } from "../../src/core/types.js";

/**
 * A real browser for the web page's tests: Debian's `chromium`, driven by
 * playwright-core (which downloads no browser). CHROMIUM names another binary.
 * Under CI=true a missing browser fails the run (never a skip).
 */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const why = `no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`;
  if (process.env.CI === "true") throw new Error(why);
  return why;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/**
 * A browser context signed in as a person, as a sign-in would leave it: a
 * session row and its HttpOnly cookie (the sign-in forms have tests of their own).
 */
export async function signedInContext(browser: Browser, core: Core, baseUrl: string, personId: number): Promise<BrowserContext> {
  const session = await startSession(core, personId, "token", 3_600_000);
  const context = await browser.newContext({ baseURL: baseUrl });
  await context.addCookies([{ name: "vmres_session", value: session.secret, url: baseUrl, httpOnly: true, sameSite: "Lax" }]);
  return context;
}

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/**
 * Where the test run saves a screenshot of each page: test-results/screenshots/ (not committed),
 * and, with UPDATE_SCREENSHOTS=1, docs/screenshots/ too, the pictures docs/web.md and the README
 * show (kept out of ordinary runs, whose timestamps would change them every time).
 */
export const SCREENSHOTS = fileURLToPath(new URL("../../test-results/screenshots/", import.meta.url));
export const DOC_SCREENSHOTS = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url));

export async function screenshot(page: Page, name: string): Promise<void> {
  const dirs = process.env.UPDATE_SCREENSHOTS === "1" ? [SCREENSHOTS, DOC_SCREENSHOTS] : [SCREENSHOTS];
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
  }
}
